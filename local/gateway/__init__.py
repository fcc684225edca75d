"""API Gateway (HTTP API) emulation for the local stack, derived from template.yaml.

from local.gateway import serve
with serve(aws_endpoint=stack.aws_endpoint, log_file=tmp / "gateway.log") as gateway:
    requests.get(f"{gateway.url}/v1/health")
"""

from local.gateway.server import RunningGateway, serve

__all__ = ["RunningGateway", "serve"]
