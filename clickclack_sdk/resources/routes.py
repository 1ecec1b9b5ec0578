"""Public route ids: turning a web URL back into API ids (protocol 1.2)."""

from __future__ import annotations

from clickclack_sdk._models import RouteTarget
from clickclack_sdk._refs import seg
from clickclack_sdk.resources._base import Resource


class RoutesResource(Resource):
    """``client.routes``: resolve ``/app/{workspace}/{target}`` URL parts."""

    __slots__ = ()

    async def resolve(self, workspace: str, target: str) -> RouteTarget:
        """What a URL's workspace part (``T…`` or ``wsp_…``) and target part (``C…``/``D…``/
        ``M…`` or a legacy internal id) point at; unknown or invisible -> :class:`NotFound`."""
        return await self._client.call(
            "GET", f"/api/routes/{seg(workspace)}/{seg(target)}", RouteTarget, "route"
        )

    async def resolve_url(self, url: str) -> RouteTarget:
        """Resolve a full web URL such as ``https://chat.example/app/T…/C…``."""
        parts = [part for part in url.split("?", 1)[0].split("#", 1)[0].split("/") if part]
        if "app" not in parts or len(parts) < parts.index("app") + 3:
            raise ValueError(f"not a ClickClack app URL: {url}")
        at = parts.index("app")
        return await self.resolve(parts[at + 1], parts[at + 2])
