"""Prometheus metrics of one server (own registry) and the ASGI middleware that counts HTTP requests."""
from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Dict, Iterable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

Scope = Dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Dict[str, Any]]], Callable[[Dict[str, Any]], Awaitable[None]]],
                   Awaitable[None]]

_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
_TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536, 262144)


class ServerMetrics:
    """Requests, errors, queue depth, batch sizes and latency histograms, exported as Prometheus text."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("flagembedding_http_requests", "HTTP requests by path and status.",
                                ["path", "status"], registry=r)
        self.errors = Counter("flagembedding_http_errors", "HTTP responses with status >= 400 by path and status.",
                              ["path", "status"], registry=r)
        self.latency = Histogram("flagembedding_http_request_duration_seconds", "HTTP request latency.", ["path"],
                                 registry=r)
        self.queue_depth = Gauge("flagembedding_queue_depth", "Inputs waiting for a batch.", ["model"], registry=r)
        self.batch_inputs = Histogram("flagembedding_batch_inputs", "Inputs per model batch.", ["model"],
                                      buckets=_SIZE_BUCKETS, registry=r)
        self.batch_tokens = Histogram("flagembedding_batch_tokens", "Tokens per model batch.", ["model"],
                                      buckets=_TOKEN_BUCKETS, registry=r)
        self.batch_latency = Histogram("flagembedding_batch_duration_seconds", "Model time per batch.", ["model"],
                                       registry=r)
        self.batch_failures = Counter("flagembedding_batch_failures", "Model batches that raised.", ["model"],
                                      registry=r)
        self.input_tokens = Counter("flagembedding_input_tokens", "Tokens read by the model (usage).", ["model"],
                                    registry=r)

    def observe_batch(self, model: str, inputs: int, tokens: int, seconds: float) -> None:
        """Record one model batch."""
        self.batch_inputs.labels(model=model).observe(inputs)
        self.batch_tokens.labels(model=model).observe(tokens)
        self.batch_latency.labels(model=model).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI middleware: count every HTTP request and time it, labelled by path (unknown paths: ``other``)."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, paths: Iterable[str]):
        self.app, self.metrics, self.paths = app, metrics, frozenset(paths)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.paths else "other"
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.requests.labels(path=path, status=str(status)).inc()
            if status >= 400:
                self.metrics.errors.labels(path=path, status=str(status)).inc()
            self.metrics.latency.labels(path=path).observe(time.perf_counter() - started)
