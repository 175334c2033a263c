"""Dynamic batching: merge the inputs of concurrent requests into token-bounded batches run off the event loop.

Each request is split into units (one text or one (query, document) pair) with a token length. A batch is
formed from the pending units of one *key* (inputs that can share a model call, e.g. queries of the same
output kind) once their padded token cost reaches ``max_batch_tokens`` or the oldest unit has waited
``max_wait_s``. Units are taken round-robin over the waiting requests, so a huge request shares every batch
with the small ones behind it instead of blocking them. The model call runs in a dedicated thread; its length
sorting (``run_length_sorted``) orders the batch. Past ``max_queue`` waiting units, :meth:`submit` refuses
with 503 + ``Retry-After``. A failing batch fails only the requests that had units in it.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Hashable, List, Optional, Sequence, Tuple

from FlagEmbedding.abc.inference.batching import is_out_of_memory
from FlagEmbedding.serve.errors import APIError
from FlagEmbedding.serve.metrics import ServerMetrics

logger = logging.getLogger(__name__)

#: ``run(key, items) -> one result per item``; called in the batcher's thread
RunBatch = Callable[[Hashable, List[Any]], Sequence[Any]]


@dataclass(eq=False)
class _Request:
    key: Hashable
    items: List[Any]
    lengths: List[int]
    future: "asyncio.Future[List[Any]]"
    arrival: float
    results: List[Any] = field(default_factory=list)
    taken: int = 0
    done_units: int = 0

    @property
    def waiting_units(self) -> int:
        return len(self.items) - self.taken


class DynamicBatcher:
    """Batches :meth:`submit` calls for one model; start with :meth:`start`, drain with :meth:`stop`."""

    def __init__(self, name: str, run: RunBatch, max_batch_tokens: int, max_wait_s: float, max_queue: int,
                 metrics: Optional[ServerMetrics] = None):
        self.name = name
        self.run = run
        self.max_batch_tokens = max_batch_tokens
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.metrics = metrics
        self._pending: Deque[_Request] = collections.deque()
        self._waiting_units = 0
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._worker: Optional[asyncio.Task] = None
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"batcher-{name}")
        if metrics is not None:
            metrics.queue_depth.labels(model=name).set_function(lambda: self._waiting_units)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the worker task on the running loop."""
        self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"batcher-{self.name}")

    async def stop(self) -> None:
        """Refuse new work, finish what is queued, then stop the worker and its thread."""
        self._stopping = True
        self._wakeup.set()
        if self._worker is not None:
            await self._worker
        self._executor.shutdown(wait=True)

    # ------------------------------------------------------------------ submit
    async def submit(self, key: Hashable, items: List[Any], lengths: List[int]) -> List[Any]:
        """Queue ``items`` (with their token ``lengths``) under ``key``; return one result per item, in order.

        Raises:
            APIError: 503 when stopping or when the queue cannot take ``len(items)`` more units; 500/503 when
                the batch holding one of the items fails (503 for out-of-memory).
        """
        if self._stopping:
            raise APIError(503, "The server is shutting down.", headers={"Retry-After": "1"})
        if self._waiting_units + len(items) > self.max_queue:
            raise APIError(503, f"The {self.name} queue is full ({self._waiting_units} inputs waiting, limit "
                                f"{self.max_queue}); retry later.", code="queue_full", headers={"Retry-After": "1"})
        if not items:
            return []
        request = _Request(key, list(items), list(lengths), asyncio.get_running_loop().create_future(),
                           time.monotonic(), results=[None] * len(items))
        self._pending.append(request)
        self._waiting_units += len(items)
        self._wakeup.set()
        try:
            return await request.future
        except asyncio.CancelledError:  # client went away: drop its units that no batch has taken yet
            self._drop(request)
            raise

    def _drop(self, request: _Request) -> None:
        if request in self._pending:
            self._pending.remove(request)
            self._waiting_units -= request.waiting_units
            request.taken = len(request.items)

    # ------------------------------------------------------------------ worker
    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            oldest = self._pending[0]
            deadline = oldest.arrival + self.max_wait_s
            while not self._stopping and not self._budget_full(oldest.key) and time.monotonic() < deadline:
                self._wakeup.clear()
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout=max(0.0, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
            if oldest.waiting_units == 0:  # cancelled while we waited
                continue
            units = self._take(oldest.key)
            await self._run_batch(loop, oldest.key, units)

    def _budget_full(self, key: Hashable) -> bool:
        cost, longest, count = 0, 0, 0
        for request in self._pending:
            if request.key != key:
                continue
            for length in request.lengths[request.taken:]:
                longest, count = max(longest, length), count + 1
                cost = longest * count
                if cost >= self.max_batch_tokens:
                    return True
        return False

    def _take(self, key: Hashable) -> List[Tuple[_Request, int]]:
        """Units of ``key`` round-robin over requests (arrival order) while the padded cost fits the budget;
        a unit that does not fit waits for the next batch (the first unit always fits)."""
        units: List[Tuple[_Request, int]] = []
        longest = 0
        candidates = [request for request in self._pending if request.key == key]
        progress = True
        while progress:
            progress = False
            for request in candidates:
                if request.waiting_units == 0:
                    continue
                length = request.lengths[request.taken]
                if units and max(longest, length) * (len(units) + 1) > self.max_batch_tokens:
                    continue
                longest = max(longest, length)
                units.append((request, request.taken))
                request.taken += 1
                self._waiting_units -= 1
                progress = True
        for request in {request for request, _ in units}:
            if request.waiting_units == 0:
                self._pending.remove(request)
        return units

    async def _run_batch(self, loop: asyncio.AbstractEventLoop, key: Hashable,
                         units: List[Tuple[_Request, int]]) -> None:
        items = [request.items[index] for request, index in units]
        tokens = sum(request.lengths[index] for request, index in units)
        started = time.perf_counter()
        try:
            results = await loop.run_in_executor(self._executor, self.run, key, items)
            if len(results) != len(items):
                raise RuntimeError(f"the model returned {len(results)} results for {len(items)} inputs")
        except Exception as error:  # noqa: BLE001 - one failing batch must not stop the server
            self._fail(units, error)
            return
        finally:
            if self.metrics is not None:
                self.metrics.observe_batch(self.name, len(items), tokens, time.perf_counter() - started)
        for (request, index), result in zip(units, results):
            request.results[index] = result
            request.done_units += 1
            if request.done_units == len(request.items) and not request.future.done():
                request.future.set_result(request.results)

    def _fail(self, units: List[Tuple[_Request, int]], error: Exception) -> None:
        oom = is_out_of_memory(error)
        logger.error("A %s batch of %d inputs failed: %s: %s", self.name, len(units), type(error).__name__, error)
        if self.metrics is not None:
            self.metrics.batch_failures.labels(model=self.name).inc()
        status, reason = (503, "out of memory") if oom else (500, f"{type(error).__name__}: {error}")
        for request in {request for request, _ in units}:
            self._drop(request)
            if not request.future.done():
                request.future.set_exception(APIError(
                    status, f"The batch holding this request failed ({reason}); other requests are unaffected.",
                    code="batch_failed", headers={"Retry-After": "1"} if oom else None))
