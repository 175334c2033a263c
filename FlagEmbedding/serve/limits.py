"""Request limits: declared body size (ASGI middleware) and inputs per request / characters per input (413)."""
from __future__ import annotations

from typing import Any, Dict, List

from FlagEmbedding.serve.errors import APIError, send_error


def check_inputs(texts: List[str], param: str, max_inputs: int, max_chars: int) -> None:
    """Raise 413 naming ``param`` (and the position) when there are too many texts or one is too long."""
    if len(texts) > max_inputs:
        raise APIError(413, f"{param} has {len(texts)} items; at most {max_inputs} are allowed per request.",
                       param=param, code="too_many_inputs")
    for position, text in enumerate(texts):
        if len(text) > max_chars:
            raise APIError(413, f"{param}[{position}] has {len(text)} characters; at most {max_chars} are allowed.",
                           param=f"{param}[{position}]", code="input_too_long")


class RequestSizeMiddleware:
    """Refuse with 413 any request whose ``Content-Length`` exceeds ``max_bytes`` before its body is read."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            declared = dict(scope.get("headers", [])).get(b"content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                await send_error(send, 413, f"The request body has {int(declared)} bytes; at most {self.max_bytes} "
                                            "are allowed.", code="request_too_large")
                return
        await self.app(scope, receive, send)
