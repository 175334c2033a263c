"""Token-budget encoding through FlagModel and the CPU bf16 probe (the batching itself: tests/abc/inference)."""
from __future__ import annotations

import logging

import numpy as np
import torch

from FlagEmbedding import FlagModel
from FlagEmbedding.backends import cpu_info


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
