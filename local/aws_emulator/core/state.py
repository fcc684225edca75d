"""The emulator's clock: every expiry the emulator decides (sessions, identity contexts, vended
credentials, presigned URLs, assertions) is judged against it, so tests can move time forward
(`POST /_local/clock`) without waiting. Also the two accounts of the reference setup."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

# As the reference setup deploys: the buckets, Access Grants instances and the service's roles in one
# account, IAM Identity Center (instance, directory, trusted token issuer, applications) in another.
DATA_ACCOUNT_ID = "111111111111"
IDENTITY_CENTER_ACCOUNT_ID = "222222222222"
HOME_REGION = "us-east-1"


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        with self._lock:
            self._offset = timedelta()

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()
