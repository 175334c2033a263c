"""A pool of one worker process per device that runs a method of a model object on chunks of input.

Errors raised inside a worker reach the caller as exceptions, a worker that dies is detected instead of
waited on forever, and every pool still alive at interpreter exit is stopped.
"""
from __future__ import annotations

import atexit
import itertools
import logging
import math
import os
import queue
import sys
import traceback
import weakref
from multiprocessing.process import BaseProcess
from typing import Any, Dict, List, Sequence

import torch
import torch.multiprocessing as mp

logger = logging.getLogger(__name__)

_LIVE_POOLS: "weakref.WeakSet[MultiProcessPool]" = weakref.WeakSet()
_CALL_IDS = itertools.count()


class WorkerError(RuntimeError):
    """Raised in the parent when a worker process fails without a picklable exception."""


def _worker_loop(device: str, method_name: str, n_cpu_workers: int, setup_queue: "mp.Queue",
                 in_queue: "mp.Queue", out_queue: "mp.Queue") -> None:
    """Body of a worker: receive the target object, then run ``target.<method_name>(chunk, device=device,
    **kwargs)`` for each task. The target travels through ``setup_queue`` so the parent's process objects keep
    no reference to it (the owner can then be garbage collected, which stops the pool)."""
    if torch.device(device).type == "cpu" and n_cpu_workers > 0:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_cpu_workers))
    method = getattr(setup_queue.get(), method_name)
    while True:
        task = in_queue.get()
        if task is None:
            return
        call_id, chunk_id, chunk, kwargs = task
        try:
            result = method(chunk, device=device, **kwargs)
            out_queue.put((call_id, chunk_id, True, result))
        except BaseException as error:  # noqa: BLE001 - every failure is reported to the parent
            details = traceback.format_exc()
            try:
                out_queue.put((call_id, chunk_id, False, (error, details)))
            except Exception:  # the exception itself does not pickle
                out_queue.put((call_id, chunk_id, False, (WorkerError(repr(error)), details)))


def split_into_chunks(items: Sequence[Any], n_chunks: int) -> List[Sequence[Any]]:
    """Split ``items`` into at most ``n_chunks`` contiguous chunks of size ``ceil(len / n_chunks)``."""
    size = max(1, math.ceil(len(items) / n_chunks))
    return [items[i:i + size] for i in range(0, len(items), size)]


class MultiProcessPool:
    """One spawned process per device, each holding a copy of ``target`` (weights in shared memory).

    It also behaves like the original's pool dict: ``pool["input"]``, ``pool["output"]`` and
    ``pool["processes"]`` give the queues and the process list.
    """

    def __init__(self, target: Any, method_name: str, devices: Sequence[str]):
        context = mp.get_context("spawn")
        self.devices = list(devices)
        self.input: "mp.Queue" = context.Queue()
        self.output: "mp.Queue" = context.Queue()
        self._setup: "mp.Queue" = context.Queue()
        n_cpu = sum(torch.device(d).type == "cpu" for d in self.devices)
        self.processes: List[BaseProcess] = []
        for device in self.devices:
            process = context.Process(
                target=_worker_loop,
                args=(device, method_name, n_cpu, self._setup, self.input, self.output),
                daemon=True,
            )
            process.start()
            self.processes.append(process)
            self._setup.put(target)
        _LIVE_POOLS.add(self)

    def __getitem__(self, key: str) -> Any:
        return {"input": self.input, "output": self.output, "processes": self.processes}[key]

    def map(self, inputs: Sequence[Any], kwargs: Dict[str, Any]) -> List[Any]:
        """Split ``inputs`` into one chunk per process and return the chunk results in input order."""
        if not self.processes:
            raise RuntimeError("The multi-process pool has been stopped.")
        call_id = next(_CALL_IDS)
        chunks = split_into_chunks(inputs, len(self.processes))
        for chunk_id, chunk in enumerate(chunks):
            self.input.put((call_id, chunk_id, chunk, kwargs))
        results: Dict[int, Any] = {}
        while len(results) < len(chunks):
            try:
                result_call, chunk_id, ok, payload = self.output.get(timeout=1.0)
            except queue.Empty:
                dead = [(d, p.exitcode) for d, p in zip(self.devices, self.processes) if not p.is_alive()]
                if dead:
                    self.stop()
                    device, code = dead[0]
                    raise WorkerError(f"The worker process for device '{device}' died (exit code {code}).")
                continue
            if result_call != call_id:  # a late answer from an earlier, failed call
                continue
            if not ok:
                error, details = payload
                self.stop()
                if isinstance(error, BaseException):
                    if sys.version_info >= (3, 11):  # add_note is new in 3.11
                        error.add_note(f"Raised in a worker process; its traceback:\n{details}")
                    raise error
                raise WorkerError(details)
            results[chunk_id] = payload
        return [results[i] for i in range(len(chunks))]

    def stop(self) -> None:
        """Terminate and join every process, then close both queues. Safe to call twice."""
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
            process.close()
        self.processes = []
        for q in (self._setup, self.input, self.output):
            q.close()
            q.join_thread()
        _LIVE_POOLS.discard(self)


@atexit.register
def _stop_live_pools() -> None:
    for pool in list(_LIVE_POOLS):
        try:
            pool.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            logger.debug("Could not stop a pool at exit.", exc_info=True)
