"""What a load balancer, a monitor and Prometheus ask: ``/health`` (the process answers),
``/healthz`` (the database answers with the code's schema; each job's last run; 503 when
not healthy) and ``/metrics``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from digest.metrics import CONTENT_TYPE as METRICS_TYPE
from digest.metrics import health as health_report
from digest.metrics import metrics as metrics_text
from digest.web.site import Site


async def health(site: Site, request: Request) -> Response:
    return PlainTextResponse("ok\n")


async def healthz(site: Site, request: Request) -> Response:
    healthy, report = await site.call(health_report, site.store, site.clock())
    return JSONResponse(report, status_code=200 if healthy else 503)


async def metrics(site: Site, request: Request) -> Response:
    return Response(await site.call(metrics_text, site.store, site.clock),
                    media_type=METRICS_TYPE)


def routes(site: Site) -> list[Route]:
    """The three of them, GET only."""
    return [site.route("/health", health, ["GET"]), site.route("/healthz", healthz, ["GET"]),
            site.route("/metrics", metrics, ["GET"])]
