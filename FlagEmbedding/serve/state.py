"""The state a running server's routes read (``app.state.serve``): the loaded services, their batchers,
readiness and the load error."""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Dict, Literal, Optional, Union, overload

from FlagEmbedding.serve.batcher import DynamicBatcher
from FlagEmbedding.serve.errors import APIError
from FlagEmbedding.serve.metrics import ServerMetrics
from FlagEmbedding.serve.services import EmbedderService, RerankerService, Services
from FlagEmbedding.serve.settings import ServeSettings
from FlagEmbedding.utils.progress import JobSummary

logger = logging.getLogger("FlagEmbedding.serve.app")  # the logger the server has always logged loading under


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

    @overload
    def service(self, task: Literal["embedder"], requested: Optional[str]) -> EmbedderService: ...

    @overload
    def service(self, task: Literal["reranker"], requested: Optional[str]) -> RerankerService: ...

    def service(self, task: Literal["embedder", "reranker"],
                requested: Optional[str]) -> Union[EmbedderService, RerankerService]:
        """The service for ``task`` (``embedder`` / ``reranker``); 503 while loading, 404 if absent or misnamed."""
        service: Union[EmbedderService, RerankerService, None] = getattr(self.loaded(), task)
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

    async def load(self, load: Callable[[], Services],
                   on_load_error: Optional[Callable[[BaseException], None]] = None) -> None:
        """Run ``load`` in a thread and :meth:`start` its services; if it raises, record the error (``/health``
        reports it) and hand it to ``on_load_error``. Once ready, one INFO line names the models, the endpoints
        that serve them and the loading time."""
        job = JobSummary(logger)
        try:
            services = await asyncio.to_thread(load)
        except Exception as error:  # noqa: BLE001 - reported to the caller, which decides what to do
            self.load_error = f"{type(error).__name__}: {error}"
            logger.debug("Model loading failed", exc_info=True)
            if on_load_error is not None:
                on_load_error(error)
            return
        self.start(services)
        endpoints = {"embedding": "POST /v1/embeddings", "rerank": "POST /v1/rerank"}
        job.log("Ready: " + ", ".join(f"{s.task} '{s.model_id}' on {endpoints.get(s.task, s.task)}"
                                      for s in services.all()),
                "API at GET /docs", took="models loaded in")

    async def stop(self) -> None:
        """Drain and stop every batcher."""
        for batcher in self.batchers.values():
            await batcher.stop()
