"""Liveness and readiness probes, outside ``/api`` and without auth (protocol 3.3)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from clickclack_server.db import Tx
from clickclack_server.http import json_response
from clickclack_server.server import get_server


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


def _ping(tx: Tx) -> int:
    return int(tx.scalar("SELECT count(*) FROM schema_migrations"))


async def readyz(request: Request) -> Response:
    try:
        await get_server(request).db.read(_ping)
    except Exception:
        return json_response({"status": "unavailable"}, 503)
    return json_response({"status": "ready"})


routes: list[BaseRoute] = [
    Route("/healthz", healthz, methods=["GET", "HEAD"]),
    Route("/readyz", readyz, methods=["GET", "HEAD"]),
]
