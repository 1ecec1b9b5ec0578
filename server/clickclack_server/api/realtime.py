"""Routes of this area (filled in by its implementation)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
