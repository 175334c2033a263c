"""The FastAPI application: the routes of :mod:`FlagEmbedding.serve.routes`, model loading in the background
(:class:`~FlagEmbedding.serve.state.ServerState`), batchers and middleware."""
from __future__ import annotations

import asyncio
import importlib.metadata
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Dict, Optional, Union

from fastapi import FastAPI

from FlagEmbedding.serve.auth import BearerAuthMiddleware
from FlagEmbedding.serve.docs import install_docs
from FlagEmbedding.serve.errors import CancelledRequestMiddleware, install_error_handlers
from FlagEmbedding.serve.limits import RequestBodyMiddleware
from FlagEmbedding.serve.metrics import MetricsMiddleware, ServerMetrics
# defined here up to this release; importable from here still
from FlagEmbedding.serve.routes import embedding_item, encode_vector, router, truncate_renormalize  # noqa: F401
from FlagEmbedding.serve.schemas import ErrorResponse
from FlagEmbedding.serve.services import Services
from FlagEmbedding.serve.settings import ServeSettings
from FlagEmbedding.serve.state import ServerState

#: paths metrics are labelled with (others count as ``other``)
ROUTES = ("/v1/embeddings", "/v1/rerank", "/v1/models", "/health", "/metrics", "/docs", "/openapi.json")
_ERRORS: Dict[Union[int, str], Dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 401, 404, 408, 413, 415, 422, 500, 503)}


def package_version() -> str:
    """The installed FlagEmbedding version (``unknown`` when run from a source tree that is not installed)."""
    try:
        return importlib.metadata.version("FlagEmbedding")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def create_app(settings: ServeSettings, load: Callable[[], Services],
               on_load_error: Optional[Callable[[BaseException], None]] = None) -> FastAPI:
    """The server application. ``load`` runs in a thread after startup (``/health`` is 503 until it returns);
    if it raises, ``on_load_error`` gets the exception (the CLI then stops the server)."""
    metrics = ServerMetrics()
    state = ServerState(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = asyncio.create_task(state.load(load, on_load_error))
        yield
        if not loader.done():
            loader.cancel()
        await state.stop()

    app = FastAPI(
        title="FlagEmbedding server",
        description="OpenAI-compatible embeddings (with BGE-M3 sparse / ColBERT outputs) and Cohere/Jina-style "
                    "reranking for every model of the FlagEmbedding registry.",
        version=package_version(),
        lifespan=lifespan,
        responses=_ERRORS,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.state.serve = state
    install_error_handlers(app)
    app.include_router(router)

    app.add_middleware(RequestBodyMiddleware, max_bytes=settings.max_request_bytes, timeout=settings.request_timeout)
    app.add_middleware(CancelledRequestMiddleware)
    if settings.api_key is not None:
        app.add_middleware(BearerAuthMiddleware, api_key=settings.api_key)
    app.add_middleware(MetricsMiddleware, metrics=metrics, paths=ROUTES)
    return app

