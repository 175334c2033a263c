"""``--api_key``: Bearer-token check for every path but the open ones (``/health``), as ASGI middleware."""
from __future__ import annotations

import secrets
from typing import Any, Dict, Iterable

from FlagEmbedding.serve.errors import send_error


class BearerAuthMiddleware:
    """Reject requests without ``Authorization: Bearer <api_key>`` with 401 (constant-time comparison)."""

    def __init__(self, app: Any, api_key: str, open_paths: Iterable[str] = ("/health",)):
        self.app = app
        self.expected = f"Bearer {api_key}".encode()
        self.open_paths = frozenset(open_paths)

    def authorized(self, scope: Dict[str, Any]) -> bool:
        """Whether the request carries the right key (every header compared, so timing reveals nothing)."""
        given = b""
        for name, value in scope.get("headers", []):
            if name.lower() == b"authorization":
                given = value
        return secrets.compare_digest(given, self.expected)

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths or self.authorized(scope):
            await self.app(scope, receive, send)
            return
        await send_error(send, 401, "Missing or invalid API key: send `Authorization: Bearer <key>`.",
                         code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
