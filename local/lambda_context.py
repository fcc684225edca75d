"""A Lambda context object for in-process invocations (tests, the local gateway, benchmarks)."""

from __future__ import annotations

import time
import uuid


class LambdaContext:
    """What the Lambda runtime passes as `context`; `get_remaining_time_in_millis` counts down the timeout."""

    def __init__(
        self,
        function_name: str,
        timeout_seconds: float = 10.0,
        memory_mb: int = 256,
        *,
        region: str = "us-east-1",
        account_id: str = "111111111111",
        request_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self.identity = None
        self.client_context = None
        self.timeout_seconds = timeout_seconds
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
