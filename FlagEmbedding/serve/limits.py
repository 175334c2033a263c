"""Request limits: body size and body time (ASGI middleware), inputs per request / characters per input (413)."""
from __future__ import annotations

import asyncio
import sys
from typing import Any, Awaitable, Callable, Dict, List

from FlagEmbedding.serve.errors import APIError

#: headers of an answer sent before the request body was read to its end: the connection cannot be reused
CLOSE = {"Connection": "close"}


if sys.version_info >= (3, 11):
    async def receive_by(receive: Callable[[], Awaitable[Dict[str, Any]]], deadline: float) -> Dict[str, Any]:
        """``await receive()``, raising ``TimeoutError`` once the running loop's clock passes ``deadline``."""
        async with asyncio.timeout_at(deadline):
            return await receive()
else:  # Python 3.10: no asyncio.timeout_at, and asyncio's TimeoutError is not the builtin one
    async def receive_by(receive: Callable[[], Awaitable[Dict[str, Any]]], deadline: float) -> Dict[str, Any]:
        """``await receive()``, raising ``TimeoutError`` once the running loop's clock passes ``deadline``."""
        try:
            return await asyncio.wait_for(receive(), deadline - asyncio.get_running_loop().time())
        except asyncio.TimeoutError:
            raise TimeoutError from None


def check_inputs(texts: List[str], param: str, max_inputs: int, max_chars: int) -> None:
    """Raise 413 naming ``param`` (and the position) when there are too many texts or one is too long."""
    if len(texts) > max_inputs:
        raise APIError(413, f"{param} has {len(texts)} items; at most {max_inputs} are allowed per request.",
                       param=param, code="too_many_inputs")
    for position, text in enumerate(texts):
        if len(text) > max_chars:
            raise APIError(413, f"{param}[{position}] has {len(text)} characters; at most {max_chars} are allowed.",
                           param=f"{param}[{position}]", code="input_too_long")


class RequestBodyMiddleware:
    """Bound every request body in size and in time, however it is framed (``Content-Length`` or chunked).

    A declared ``Content-Length`` over ``max_bytes`` is refused before anything is read. Otherwise ``receive`` is
    wrapped: it counts the body bytes as they stream in and raises a 413 :class:`APIError` once they pass
    ``max_bytes``, and a 408 when the whole body has not arrived ``timeout`` seconds after the request head. Both
    errors ask to close the connection (``Connection: close``), so the rest of the body is never read.
    """

    def __init__(self, app: Any, max_bytes: int, timeout: float):
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    def too_large(self, size: str) -> APIError:
        """The 413 for a body of ``size`` bytes."""
        return APIError(413, f"The request body has {size} bytes; at most {self.max_bytes} are allowed.",
                        code="request_too_large", headers=CLOSE)

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.too_large(str(int(declared))).response()(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout
        received, complete = 0, False

        async def bounded_receive() -> Dict[str, Any]:
            nonlocal received, complete
            if complete:  # the body is in; later messages (a disconnect) are not bounded
                return await receive()
            try:
                message = await receive_by(receive, deadline)
            except TimeoutError:
                raise APIError(408, f"The request body did not arrive within {self.timeout:g} s "
                                    "(--request_timeout).", code="request_timeout", headers=CLOSE) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self.too_large(f"more than {self.max_bytes}")
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, bounded_receive, send)
