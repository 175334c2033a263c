"""DynamicBatcher: merging, fairness under a huge request, failure isolation, queue bound, cancellation."""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, List

import pytest

from FlagEmbedding.serve.batcher import DynamicBatcher
from FlagEmbedding.serve.errors import APIError


class Recorder:
    """A fake model call: doubles each item, records every batch, optionally fails on an item or sleeps."""

    def __init__(self, fail_on: Any = None, delay: float = 0.0):
        self.batches: List[List[Any]] = []
        self.fail_on, self.delay = fail_on, delay
        self.threads = set()

    def __call__(self, key, items):
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(items))
        time.sleep(self.delay)
        if self.fail_on is not None and self.fail_on in items:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2 GiB")
        return [item * 2 for item in items]


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=30))


def test_concurrent_requests_are_merged_and_results_routed_back():
    async def main():
        model = Recorder()
        batcher = DynamicBatcher("m", model, max_batch_tokens=1000, max_wait_s=0.05, max_queue=100)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit("k", [i * 10 + j for j in range(3)], [5] * 3)
                                         for i in range(5)))
        await batcher.stop()
        return model, results

    model, results = run(main())
    assert results == [[(i * 10 + j) * 2 for j in range(3)] for i in range(5)]
    assert len(model.batches) == 1 and sorted(model.batches[0]) == sorted(i * 10 + j for i in range(5) for j in range(3))
    assert model.threads == {"batcher-m_0"}  # model work off the event loop, in the batcher's thread


def test_token_budget_counts_padding_and_keys_are_not_mixed():
    async def main():
        model = Recorder()
        batcher = DynamicBatcher("m", model, max_batch_tokens=40, max_wait_s=0.05, max_queue=100)
        batcher.start()
        await asyncio.gather(batcher.submit("a", [1, 2, 3], [10, 10, 30]), batcher.submit("b", [4], [1]))
        await batcher.stop()
        return model.batches

    batches = run(main())
    # key a: [1, 2] costs 2 x 10; adding 3 (30 tokens) would cost 3 x 30 > 40, so it goes alone; b never mixes with a
    assert batches == [[1, 2], [3], [4]]


def test_a_huge_request_does_not_block_a_small_one():
    async def main():
        model = Recorder(delay=0.01)
        batcher = DynamicBatcher("m", model, max_batch_tokens=100, max_wait_s=0.0, max_queue=10_000)
        batcher.start()
        huge = asyncio.ensure_future(batcher.submit("k", list(range(1000)), [10] * 1000))
        await asyncio.sleep(0.005)
        small = await batcher.submit("k", [-1], [10])
        batches_when_small_done = len(model.batches)
        await huge
        await batcher.stop()
        return small, batches_when_small_done, len(model.batches)

    small, done_after, total = run(main())
    assert small == [-2]
    assert done_after <= 3 and total >= 100  # served within the next batches, not after the 100 batches of the huge one


def test_a_failing_batch_fails_only_its_requests():
    async def main():
        model = Recorder(fail_on=666)
        batcher = DynamicBatcher("m", model, max_batch_tokens=1000, max_wait_s=0.05, max_queue=100)
        batcher.start()
        outcomes = await asyncio.gather(batcher.submit("k", [1, 666], [1, 1]), batcher.submit("k", [2], [1]),
                                        batcher.submit("other", [3], [1]), return_exceptions=True)
        after = await batcher.submit("k", [4], [1])
        await batcher.stop()
        return outcomes, after

    (bad, same_batch, other_batch), after = run(main())
    assert isinstance(bad, APIError) and bad.status == 503 and bad.code == "batch_failed"
    assert "out of memory" in bad.message and bad.headers == {"Retry-After": "1"}
    assert isinstance(same_batch, APIError)  # shared the failing batch
    assert other_batch == [6] and after == [8]  # other batches and later requests are unaffected


def test_queue_bound_and_stop():
    async def main():
        batcher = DynamicBatcher("m", Recorder(), max_batch_tokens=1000, max_wait_s=0.2, max_queue=4)
        batcher.start()
        waiting = asyncio.ensure_future(batcher.submit("k", [1, 2, 3], [1, 1, 1]))
        await asyncio.sleep(0.01)
        with pytest.raises(APIError) as full:
            await batcher.submit("k", [4, 5], [1, 1])
        assert full.value.status == 503 and full.value.headers == {"Retry-After": "1"}
        await batcher.stop()  # drains what is queued
        with pytest.raises(APIError) as stopped:
            await batcher.submit("k", [6], [1])
        return await waiting, stopped.value.message

    result, message = run(main())
    assert result == [2, 4, 6] and message == "The server is shutting down."


def test_cancelled_request_leaves_the_queue():
    async def main():
        model = Recorder()
        batcher = DynamicBatcher("m", model, max_batch_tokens=1000, max_wait_s=0.2, max_queue=100)
        batcher.start()
        task = asyncio.ensure_future(batcher.submit("k", [1, 2], [1, 1]))
        await asyncio.sleep(0.01)
        task.cancel()
        kept = await batcher.submit("k", [3], [1])
        await batcher.stop()
        return model.batches, kept

    batches, kept = run(main())
    assert kept == [6] and batches == [[3]]
