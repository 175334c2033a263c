"""Token-budget batching and the CPU bf16 probe."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from FlagEmbedding import FlagModel
from FlagEmbedding.abc.inference import batching, cpu_info
from FlagEmbedding.abc.inference.batching import CPU_TOKEN_BUDGET, restore_list_order, run_length_sorted, token_budget


def batches_for(lengths, batch_size, device=None):
    _, index_batches = run_length_sorted(lengths, batch_size, lambda indices: None, show_progress=False,
                                         device=device)
    return index_batches


def test_batches_fill_a_token_budget_longest_first():
    lengths = [10, 2, 10, 5, 3, 2, 2, 9]
    index_batches = batches_for(lengths, batch_size=2)  # budget 2 x 10 = 20 padded tokens
    assert index_batches == [[0, 2], [7, 3], [4, 1, 5, 6]]
    for batch in index_batches:
        assert len(batch) * max(lengths[i] for i in batch) <= 20
    assert sorted(i for batch in index_batches for i in batch) == list(range(len(lengths)))


def test_cpu_budget_caps_rows_accelerators_keep_batch_size():
    assert token_budget(256, 512, "cpu") == CPU_TOKEN_BUDGET
    assert token_budget(256, 512, "cuda:0") == 256 * 512
    assert token_budget(4, 10, "cpu") == 40
    assert token_budget(1, 100_000, "cpu") == 100_000  # never below one row of the longest input
    lengths = [512] * 100
    assert [len(b) for b in batches_for(lengths, 256, "cpu")] == [32, 32, 32, 4]
    assert [len(b) for b in batches_for(lengths, 256, "cuda:0")] == [100]


def test_restore_list_order_inverts_the_batches():
    lengths = [3, 9, 1, 7]
    index_batches = batches_for(lengths, batch_size=1)
    flat = [f"text{i}" for batch in index_batches for i in batch]
    assert restore_list_order(flat, index_batches) == ["text0", "text1", "text2", "text3"]


def test_token_budget_encode_equals_one_text_at_a_time(tiny_bert):
    texts = ["short", "a somewhat longer sentence with more tokens in it", "mid length text here", "x"] * 3
    model = FlagModel(tiny_bert, devices="cpu", batch_size=2)
    single = np.stack([model.encode(t) for t in texts])
    np.testing.assert_allclose(model.encode(texts), single, atol=1e-6)


def test_bf16_probe_is_cached_and_warns_only_when_slower(monkeypatch, caplog):
    cpu_info.cpu_bf16_speedup.cache_clear()
    first = cpu_info.cpu_bf16_speedup()
    assert first > 0 and cpu_info.cpu_bf16_speedup() == first  # cached: the same measurement
    assert cpu_info.cpu_bf16_speedup.cache_info().hits >= 1

    monkeypatch.setattr(cpu_info, "cpu_bf16_speedup", lambda: 0.72)
    with caplog.at_level(logging.WARNING, logger=cpu_info.__name__):
        assert cpu_info.warn_if_cpu_bf16_slow() is True
    assert "runs bfloat16 matmuls at 0.72x the fp32 speed" in caplog.text
    caplog.clear()
    monkeypatch.setattr(cpu_info, "cpu_bf16_speedup", lambda: 3.0)
    with caplog.at_level(logging.WARNING, logger=cpu_info.__name__):
        assert cpu_info.warn_if_cpu_bf16_slow() is False
    assert caplog.text == ""


def test_use_bf16_on_a_slow_cpu_warns_once_per_model(tiny_bert, monkeypatch, caplog):
    monkeypatch.setattr(cpu_info, "cpu_bf16_speedup", lambda: 0.5)
    model = FlagModel(tiny_bert, devices="cpu", use_bf16=True)
    with caplog.at_level(logging.WARNING, logger=cpu_info.__name__):
        model.encode(["one"])
        model.encode(["two"])
    assert caplog.text.count("use_bf16=True on CPU") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger=cpu_info.__name__):
        FlagModel(tiny_bert, devices="cpu").encode(["fp32 never probes"])
    assert caplog.text == ""


def test_cpu_description_names_model_and_flags():
    text = cpu_info.cpu_description()
    assert cpu_info.cpu_model() in text
    assert f"{torch.get_num_threads()} torch threads" in text
    assert set(cpu_info.cpu_speed_flags()) <= set(cpu_info.SPEED_FLAGS)
