"""OpenAI-style JSON errors: the exception routes raise and the handlers that turn every failure into one."""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

#: error ``type`` by HTTP status (OpenAI's names where it has one)
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               405: "invalid_request_error", 413: "request_too_large", 415: "invalid_request_error", 422: "invalid_request_error",
               500: "server_error", 503: "service_unavailable"}


def error_body(status: int, message: str, param: Optional[str] = None, code: Optional[str] = None) -> Dict[str, Any]:
    """``{"error": {"message", "type", "param", "code"}}``."""
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "invalid_request_error"),
                      "param": param, "code": code}}


def error_response(status: int, message: str, param: Optional[str] = None, code: Optional[str] = None,
                   headers: Optional[Dict[str, str]] = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(status, message, param, code), status_code=status, headers=headers)


async def send_error(send: Any, status: int, message: str, code: Optional[str] = None,
                     headers: Optional[Dict[str, str]] = None) -> None:
    """Send an error response from raw ASGI middleware (before any route runs)."""
    body = json.dumps(error_body(status, message, code=code)).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class APIError(Exception):
    """Raised by routes and the batcher; becomes an error response with ``status`` and optional headers."""

    def __init__(self, status: int, message: str, param: Optional[str] = None, code: Optional[str] = None,
                 headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.headers = status, message, param, code, headers

    def response(self) -> JSONResponse:
        """This error as a response."""
        return error_response(self.status, self.message, self.param, self.code, self.headers)


def _validation_response(request: Request, error: RequestValidationError) -> JSONResponse:
    """400 for a body that is not JSON, 415 for a body not sent as JSON, 422 for wrong fields (first one named)."""
    problems = error.errors()
    first = problems[0] if problems else {"type": "", "loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return error_response(400, f"The request body is not valid JSON: {first.get('msg')}.", code="invalid_json")
    if tuple(first.get("loc", ())) == ("body",) and "json" not in request.headers.get("content-type", "json"):
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

    app.add_exception_handler(RequestValidationError, _validation_response)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail), headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("Unhandled error on %s", request.url.path)
        return error_response(500, f"Internal server error: {type(error).__name__}.")
