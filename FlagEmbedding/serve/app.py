"""The FastAPI application: routes, model loading in the background, batchers and middleware."""
from __future__ import annotations

import asyncio
import base64
import importlib.metadata
import logging
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Union

import numpy as np
from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from FlagEmbedding.serve.auth import BearerAuthMiddleware
from FlagEmbedding.serve.batcher import DynamicBatcher
from FlagEmbedding.serve.docs import install_docs
from FlagEmbedding.serve.errors import APIError, CancelledRequestMiddleware, install_error_handlers
from FlagEmbedding.serve.limits import RequestBodyMiddleware, check_inputs
from FlagEmbedding.serve.metrics import MetricsMiddleware, ServerMetrics
from FlagEmbedding.serve.schemas import (Embedding, EmbeddingRequest, EmbeddingResponse, ErrorResponse, ModelCard,
                                         ModelList,
                                         RerankRequest, RerankResponse, RerankResult, RerankUsage, SparseEmbedding,
                                         Usage)
from FlagEmbedding.serve.services import EmbedderService, EmbeddingOutput, RerankerService, Services
from FlagEmbedding.serve.settings import ServeSettings

logger = logging.getLogger(__name__)

#: paths metrics are labelled with (others count as ``other``)
ROUTES = ("/v1/embeddings", "/v1/rerank", "/v1/models", "/health", "/metrics", "/docs", "/openapi.json")
_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 408, 413, 415, 422, 500, 503)}


def package_version() -> str:
    """The installed FlagEmbedding version (``unknown`` when run from a source tree that is not installed)."""
    try:
        return importlib.metadata.version("FlagEmbedding")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def encode_vector(vector: np.ndarray, encoding_format: str) -> Union[List[float], str]:
    """A float list, or base64 of the little-endian float32 bytes (what the ``openai`` client decodes)."""
    vector = np.asarray(vector, dtype="<f4")
    if encoding_format == "base64":
        return base64.b64encode(vector.tobytes()).decode("ascii")
    return vector.tolist()


def truncate_renormalize(vector: np.ndarray, dimensions: Optional[int]) -> np.ndarray:
    """The first ``dimensions`` features, L2-renormalised (unchanged when ``dimensions`` is None)."""
    if dimensions is None:
        return vector
    head = np.asarray(vector[:dimensions], dtype=np.float32)
    norm = float(np.linalg.norm(head))
    return head / norm if norm > 0 else head


class ServerState:
    """What the routes read: the loaded services, their batchers, readiness and the load error."""

    def __init__(self, settings: ServeSettings, metrics: ServerMetrics):
        self.settings = settings
        self.metrics = metrics
        self.services: Optional[Services] = None
        self.batchers: Dict[str, DynamicBatcher] = {}
        self.load_error: Optional[str] = None
        self.created = int(time.time())

    @property
    def ready(self) -> bool:
        """True once the models are loaded and their batchers run."""
        return self.services is not None

    def loaded(self) -> Services:
        """The services; 503 + ``Retry-After`` while they load."""
        if self.services is None:
            raise APIError(503, "The models are still loading; retry shortly.", code="loading",
                           headers={"Retry-After": "1"})
        return self.services

    def service(self, task: str, requested: Optional[str]) -> Any:
        """The service for ``task`` (``embedder`` / ``reranker``); 503 while loading, 404 if absent or misnamed."""
        service = getattr(self.loaded(), task)
        if service is None:
            raise APIError(404, f"This server hosts no {task}; start it with --{task}.", param="model",
                           code="model_not_found")
        if requested is not None and requested not in service.aliases:
            raise APIError(404, f"The model '{requested}' is not served; the {task} is '{service.model_id}' "
                                f"(see /v1/models).", param="model", code="model_not_found")
        return service

    def start(self, services: Services) -> None:
        """Start one batcher per service (on the running loop), then mark the server ready."""
        settings = self.settings
        for service in services.all():
            batcher = DynamicBatcher(service.model_id, service.run, settings.max_batch_tokens,
                                     settings.max_wait_ms / 1000.0, settings.max_queue, self.metrics)
            batcher.start()
            self.batchers[service.task] = batcher
        self.services = services

    async def stop(self) -> None:
        """Drain and stop every batcher."""
        for batcher in self.batchers.values():
            await batcher.stop()


def create_app(settings: ServeSettings, load: Callable[[], Services],
               on_load_error: Optional[Callable[[BaseException], None]] = None) -> FastAPI:
    """The server application. ``load`` runs in a thread after startup (``/health`` is 503 until it returns);
    if it raises, ``on_load_error`` gets the exception (the CLI then stops the server)."""
    metrics = ServerMetrics()
    state = ServerState(settings, metrics)

    async def load_models() -> None:
        try:
            services = await asyncio.to_thread(load)
        except Exception as error:  # noqa: BLE001 - reported to the caller, which decides what to do
            state.load_error = f"{type(error).__name__}: {error}"
            logger.debug("Model loading failed", exc_info=True)
            if on_load_error is not None:
                on_load_error(error)
            return
        state.start(services)
        logger.info("Ready: %s", ", ".join(f"{s.task} '{s.model_id}'" for s in services.all()))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = asyncio.create_task(load_models())
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

    @app.post("/v1/embeddings", response_model=EmbeddingResponse, response_model_exclude_none=True,
              summary="Embed texts (OpenAI schema)")
    async def embeddings(request: EmbeddingRequest) -> Dict[str, Any]:
        service: EmbedderService = state.service("embedder", request.model)
        texts = request.texts()
        check_inputs(texts, "input", settings.max_inputs_per_request, settings.max_chars_per_input)
        if (request.return_sparse or request.return_colbert) and not service.supports_m3_outputs:
            raise APIError(422, f"return_sparse / return_colbert need a BGE-M3 embedder; '{service.model_id}' "
                                "only has dense vectors.", param="return_sparse" if request.return_sparse
                           else "return_colbert", code="unsupported_output")
        if request.dimensions is not None and request.dimensions > service.dimension:
            raise APIError(422, f"dimensions={request.dimensions} exceeds the model's {service.dimension} features.",
                           param="dimensions", code="invalid_dimensions")
        lengths = await run_in_threadpool(service.count_tokens, texts, request.input_type)
        key = (request.input_type, request.return_sparse, request.return_colbert)
        outputs: List[EmbeddingOutput] = await state.batchers["embedding"].submit(key, texts, lengths)
        data = [embedding_item(service, index, output, request) for index, output in enumerate(outputs)]
        tokens = sum(lengths)
        metrics.input_tokens.labels(model=service.model_id).inc(tokens)
        return {"object": "list", "data": data, "model": service.model_id,
                "usage": Usage(prompt_tokens=tokens, total_tokens=tokens)}

    @app.post("/v1/rerank", response_model=RerankResponse, response_model_exclude_none=True,
              summary="Rerank documents for a query (Cohere / Jina schema)")
    async def rerank(request: RerankRequest) -> RerankResponse:
        service: RerankerService = state.service("reranker", request.model)
        documents = request.texts()
        check_inputs(documents, "documents", settings.max_inputs_per_request, settings.max_chars_per_input)
        if len(request.query) > settings.max_chars_per_input:
            raise APIError(413, f"query has {len(request.query)} characters; at most {settings.max_chars_per_input} "
                                "are allowed.", param="query", code="input_too_long")
        pairs = [[request.query, document] for document in documents]
        lengths = await run_in_threadpool(service.count_tokens, pairs)
        scores: List[float] = await state.batchers["rerank"].submit("rerank", pairs, lengths)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[: request.top_n]
        results = [
            RerankResult(index=i, relevance_score=scores[i],
                         document=(request.documents[i].model_dump() if not isinstance(request.documents[i], str)
                                   else {"text": request.documents[i]}) if request.return_documents else None)
            for i in order
        ]
        tokens = sum(lengths)
        metrics.input_tokens.labels(model=service.model_id).inc(tokens)
        return RerankResponse(id=str(uuid.uuid4()), model=service.model_id, results=results,
                              usage=RerankUsage(total_tokens=tokens))

    @app.get("/v1/models", response_model=ModelList, summary="List the served models")
    async def models() -> ModelList:
        return ModelList(data=[ModelCard(id=s.model_id, created=state.created, task=s.task)
                               for s in state.loaded().all()])

    @app.get("/health", summary="Readiness: 200 once the models are loaded, 503 before (or if loading failed)")
    async def health() -> JSONResponse:
        if state.ready:
            return JSONResponse({"status": "ready", "models": [s.model_id for s in state.services.all()]})
        status = "failed" if state.load_error else "loading"
        return JSONResponse({"status": status, "error": state.load_error}, status_code=503)

    @app.get("/metrics", summary="Prometheus metrics (text exposition format)")
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    app.add_middleware(RequestBodyMiddleware, max_bytes=settings.max_request_bytes, timeout=settings.request_timeout)
    app.add_middleware(CancelledRequestMiddleware)
    if settings.api_key is not None:
        app.add_middleware(BearerAuthMiddleware, api_key=settings.api_key)
    app.add_middleware(MetricsMiddleware, metrics=metrics, paths=ROUTES)
    return app


def embedding_item(service: EmbedderService, index: int, output: EmbeddingOutput,
                   request: EmbeddingRequest) -> Embedding:
    """One ``data`` entry: the dense vector (truncated + renormalised, encoded) and the M3 extras asked for."""
    item = Embedding(index=index, embedding=encode_vector(truncate_renormalize(output.dense, request.dimensions),
                                                          request.encoding_format))
    if output.lexical_weights is not None:
        ids = [int(token_id) for token_id in output.lexical_weights]
        item.sparse = SparseEmbedding(token_ids=ids, tokens=service.tokens_of(ids),
                                      weights=[float(w) for w in output.lexical_weights.values()])
    if output.colbert is not None:
        item.colbert = [encode_vector(vector, request.encoding_format) for vector in output.colbert]
    return item
