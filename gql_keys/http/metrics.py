"""``GET /metrics``: the Prometheus scrape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gql_keys.metrics import CONTENT_TYPE


async def metrics_endpoint(request: Request) -> Response:
    """Every metric; under ``serve --workers N``, the sum over all workers."""
    body = request.app.state.rt.metrics.render()
    return Response(body, media_type=CONTENT_TYPE)
