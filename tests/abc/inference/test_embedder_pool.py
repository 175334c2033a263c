"""Multi-process pool behind AbsEmbedder (FlagModel as the carrier): same result as one device, no orphan
processes, worker errors surface."""
import gc

import numpy as np
import psutil
import pytest

from FlagEmbedding import FlagModel
from FlagEmbedding.abc.inference.pool import WorkerError

TEXTS = [f"sentence number {i} about pandas and foxes" + " word" * (i % 7) for i in range(11)]


class FailingEmbedder(FlagModel):
    """Raises inside the worker for any input containing 'boom'."""

    def encode_single_device(self, sentences, **kwargs):
        if any("boom" in s for s in sentences):
            raise ValueError("boom inside the worker")
        return super().encode_single_device(sentences, **kwargs)


def _children_alive(pids):
    return [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]


def test_two_cpu_devices_equal_single_device_in_order(tiny_bert):
    single = FlagModel(tiny_bert, devices="cpu", batch_size=3).encode(TEXTS)
    multi_model = FlagModel(tiny_bert, devices=["cpu", "cpu"], batch_size=3)
    multi = multi_model.encode(TEXTS)
    again = multi_model.encode(TEXTS[:5])  # the pool is reused
    pids = [p.pid for p in multi_model.pool.processes]
    assert len(pids) == 2
    np.testing.assert_allclose(multi, single, atol=1e-6)
    np.testing.assert_allclose(again, single[:5], atol=1e-6)
    multi_model.stop_self_pool()
    assert multi_model.pool is None
    assert _children_alive(pids) == []


def test_single_string_runs_on_first_device_without_pool(tiny_bert):
    model = FlagModel(tiny_bert, devices=["cpu", "cpu"])
    assert model.encode("hello").shape == (32,)
    assert model.pool is None


def test_garbage_collection_stops_the_pool(tiny_bert):
    model = FlagModel(tiny_bert, devices=["cpu", "cpu"])
    model.encode(TEXTS)
    pids = [p.pid for p in model.pool.processes]
    del model
    gc.collect()
    assert _children_alive(pids) == []


def test_worker_exception_reaches_caller(tiny_bert):
    model = FailingEmbedder(tiny_bert, devices=["cpu", "cpu"])
    with pytest.raises(ValueError, match="boom inside the worker"):
        model.encode(["fine", "fine too", "boom", "ok"])
    # the failed pool is gone and a new call works again
    assert model.pool is None or not model.pool.processes
    model.pool = None
    assert model.encode(["fine", "also fine"]).shape == (2, 32)
    model.stop_self_pool()


def test_dead_worker_is_reported_not_waited_on(tiny_bert):
    model = FlagModel(tiny_bert, devices=["cpu", "cpu"])
    model.encode(TEXTS[:4])
    for process in model.pool.processes:
        process.kill()
        process.join()
    with pytest.raises(WorkerError, match="died"):
        model.encode(TEXTS)


def test_explicit_pool_uses_instance_defaults(tiny_bert):
    model = FlagModel(tiny_bert, devices=["cpu", "cpu"], passage_max_length=4)
    expected = FlagModel(tiny_bert, devices="cpu", passage_max_length=4).encode(TEXTS)
    pool = model.start_multi_process_pool()
    try:
        np.testing.assert_allclose(model.encode_multi_process(TEXTS, pool), expected, atol=1e-6)
        assert model.encode_multi_process([], pool).shape == (0, 32)
    finally:
        model.stop_multi_process_pool(pool)
    assert pool.processes == []
