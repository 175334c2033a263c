"""Multi-process pool behind AbsReranker (FlagReranker and LayerWiseFlagLLMReranker as the carriers): same scores
as one device, per-layer lists merged layer by layer, worker errors surface, no orphan processes."""
from __future__ import annotations

import gc
import os

import numpy as np
import pytest

from FlagEmbedding import FlagReranker, LayerWiseFlagLLMReranker


def alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


def test_encoder_pool_matches_one_device_and_stops(xlmr_reranker_dir, pairs):
    single = FlagReranker(xlmr_reranker_dir, devices="cpu").compute_score(pairs)
    reranker = FlagReranker(xlmr_reranker_dir, devices=["cpu", "cpu"], batch_size=2)
    scores = reranker.compute_score(pairs)
    assert isinstance(scores, list) and all(isinstance(s, float) for s in scores)
    assert scores == pytest.approx(single, abs=1e-6)
    assert reranker.compute_score(pairs[0]) == pytest.approx(single[0], abs=1e-6)  # one pair: device 0
    assert reranker.compute_score(pairs[:1]) == pytest.approx(single[:1], abs=1e-6)
    assert reranker.compute_score([]) == []
    pids = [process.pid for process in reranker.pool.processes]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    reranker.stop_self_pool()
    assert reranker.pool is None
    assert not any(alive(pid) for pid in pids)
    # the pool restarts lazily
    assert reranker.compute_score(pairs) == pytest.approx(single, abs=1e-6)
    pids = [process.pid for process in reranker.pool.processes]
    del reranker
    gc.collect()
    assert not any(alive(pid) for pid in pids)


def test_layerwise_pool_lists_per_layer_and_worker_errors(minicpm_dir, pairs):
    single = LayerWiseFlagLLMReranker(minicpm_dir, devices="cpu", use_fp16=True).compute_score(
        pairs, cutoff_layers=[2, 4])
    reranker = LayerWiseFlagLLMReranker(minicpm_dir, devices=["cpu", "cpu"], use_fp16=True, batch_size=2)
    scores = reranker.compute_score(pairs, cutoff_layers=[2, 4])
    assert isinstance(scores, list) and len(scores) == 2 and all(len(layer) == len(pairs) for layer in scores)
    assert np.array(scores) == pytest.approx(np.array(single), abs=1e-6)
    # a failure inside a worker reaches the caller as the original exception (no hang)
    with pytest.raises(ValueError, match=r"Your cutoff layers must in \[2, 4\]"):
        reranker.compute_score(pairs, cutoff_layers=[9])
    # and the next call starts a fresh pool
    assert reranker.compute_score(pairs, cutoff_layers=4) == pytest.approx(single[1], abs=1e-6)
    pids = [process.pid for process in reranker.pool.processes]
    reranker.stop_self_pool()
    assert not any(alive(pid) for pid in pids)
