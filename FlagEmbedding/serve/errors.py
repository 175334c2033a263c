"""OpenAI-style JSON errors: the exception routes raise and the handlers that turn every failure into one."""
from __future__ import annotations

import asyncio
import email.message
import json
import logging
from typing import Any, Dict, Mapping, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

#: error ``type`` by HTTP status (OpenAI's names where it has one)
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               405: "invalid_request_error", 408: "request_timeout", 413: "request_too_large",
               415: "invalid_request_error", 422: "invalid_request_error", 500: "server_error",
               503: "service_unavailable"}


def error_body(status: int, message: str, param: Optional[str] = None, code: Optional[str] = None) -> Dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": code}}


def render_error(body: Dict[str, Any]) -> bytes:
    """An error body as JSON bytes; non-ASCII is escaped, so a message or ``param`` quoting what the client sent
    can always be encoded (even a lone surrogate)."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


class ErrorJSONResponse(JSONResponse):
    """A JSON response rendered by :func:`render_error`."""

    def render(self, content: Any) -> bytes:
        return render_error(content)


def error_response(status: int, message: str, param: Optional[str] = None, code: Optional[str] = None,
                   headers: Optional[Mapping[str, str]] = None) -> JSONResponse:
    """A JSON error response."""
    return ErrorJSONResponse(error_body(status, message, param, code), status_code=status, headers=headers)


async def send_error(send: Any, status: int, message: str, code: Optional[str] = None,
                     headers: Optional[Dict[str, str]] = None) -> None:
    """Send an error response from raw ASGI middleware (before any route runs)."""
    body = render_error(error_body(status, message, code=code))
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class APIError(StarletteHTTPException):
    """Raised by routes, the batcher and ``receive`` wrappers; becomes an error response with ``status`` and
    optional headers. (An ``HTTPException``, so FastAPI passes it on unchanged when reading the body raises it.)"""

    def __init__(self, status: int, message: str, param: Optional[str] = None, code: Optional[str] = None,
                 headers: Optional[Dict[str, str]] = None):
        super().__init__(status, message, headers)
        self.status, self.message, self.param, self.code = status, message, param, code

    def __str__(self) -> str:
        return self.message

    def response(self) -> JSONResponse:
        """This error as a response."""
        return error_response(self.status, self.message, self.param, self.code, self.headers)


def is_json_media_type(content_type: Optional[str]) -> bool:
    """Whether a ``Content-Type`` is JSON: ``application/json`` or ``application/<anything>+json`` (parameters
    such as ``charset`` allowed; a missing header is not JSON). The rule FastAPI parses bodies by."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _validation_response(request: Request, error: RequestValidationError) -> JSONResponse:
    """400 for a body that is not JSON, 415 for a body not sent as JSON, 422 for wrong fields (first one named)."""
    problems = error.errors()
    first: Dict[str, Any] = problems[0] if problems else {"type": "", "loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return error_response(400, f"The request body is not valid JSON: {first.get('msg')}.", code="invalid_json")
    # FastAPI leaves a body without a JSON content type unparsed, so the whole body fails validation
    if tuple(first.get("loc", ())) == ("body",) and not is_json_media_type(request.headers.get("content-type")):
        return error_response(415, "Send the request body as JSON with `Content-Type: application/json`.",
                              code="unsupported_media_type")
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    if param:
        message = f"{param}: {message}"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem(s))"
    return error_response(422, message, param=param, code=first.get("type"))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through :func:`error_response` so clients always get the same JSON shape."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, error: APIError) -> JSONResponse:
        return error.response()

    # registered through the decorator: ``add_exception_handler`` is typed for handlers of any ``Exception``
    app.exception_handler(RequestValidationError)(_validation_response)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("Unhandled error on %s", request.url.path)
        return error_response(500, f"Internal server error: {type(error).__name__}.")


class CancelledRequestMiddleware:
    """Answer 503 (``Retry-After``, ``Connection: close``) to a request whose task is cancelled before its response
    started: uvicorn cancels the requests still running when ``--graceful_timeout`` ends, and would answer them
    with a plain-text 500 and log a traceback."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if started:
                raise
            logger.warning("%s %s was cancelled (--graceful_timeout passed); answered 503.", scope["method"],
                           scope["path"])
            await send_error(send, 503, "The server shut down before this request was answered; retry it.",
                             code="shutting_down", headers={"Retry-After": "1", "Connection": "close"})
