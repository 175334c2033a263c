"""Length-sorted token-budget batches, the out-of-memory back-off and order restoring, with fake batch runners."""
from __future__ import annotations

import logging
import random

import pytest
import torch

from FlagEmbedding.abc.inference import batching
from FlagEmbedding.abc.inference.batching import (CPU_TOKEN_BUDGET_RANGE, OOM_BACKOFF, cpu_token_budget,
                                                  is_out_of_memory, restore_list_order, restore_order,
                                                  run_length_sorted, token_budget)


def batches_for(lengths, batch_size, device=None):
    _, index_batches = run_length_sorted(lengths, batch_size, lambda indices: None, show_progress=False,
                                         device=device)
    return index_batches


class FlakyRunner:
    """Records the size of every batch it is given; raises ``error`` for batches larger than ``fits``."""

    def __init__(self, fits, error):
        self.fits, self.error, self.sizes = fits, error, []

    def __call__(self, indices):
        self.sizes.append(len(indices))
        if len(indices) > self.fits:
            raise self.error
        return list(indices)


@pytest.fixture()
def cache_clears(monkeypatch):
    calls = []
    monkeypatch.setattr(batching, "empty_device_cache", lambda: calls.append(1))
    return calls


def test_batches_fill_a_token_budget_longest_first():
    lengths = [10, 2, 10, 5, 3, 2, 2, 9]
    index_batches = batches_for(lengths, batch_size=2)  # budget 2 x 10 = 20 padded tokens
    assert index_batches == [[0, 2], [7, 3], [4, 1, 5, 6]]
    for batch in index_batches:
        assert len(batch) * max(lengths[i] for i in batch) <= 20
    assert sorted(i for batch in index_batches for i in batch) == list(range(len(lengths)))


@pytest.mark.parametrize("batch_size", [1, 3, 8, 64])
@pytest.mark.parametrize("device", [None, "cpu", "cuda:0"])
def test_random_lengths_sorted_longest_first_and_within_the_budget(batch_size, device):
    rng = random.Random(batch_size)
    lengths = [rng.randint(1, 4000) for _ in range(300)]
    index_batches = batches_for(lengths, batch_size, device)
    flat = [i for batch in index_batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    budget = token_budget(batch_size, max(lengths), device)
    assert len(index_batches[0]) == max(1, budget // max(lengths))
    for batch in index_batches:
        assert len(batch) * max(lengths[i] for i in batch) <= max(budget, max(lengths[i] for i in batch))


def test_cpu_budget_caps_rows_accelerators_keep_batch_size(monkeypatch):
    monkeypatch.setattr(batching, "last_level_cache_bytes", lambda: None)
    high = CPU_TOKEN_BUDGET_RANGE[1]
    assert token_budget(256, 512, "cpu") == high
    assert token_budget(256, 512, "cuda:0") == 256 * 512
    assert token_budget(4, 10, "cpu") == 40
    assert token_budget(1, 100_000, "cpu") == 100_000  # never below one row of the longest input
    lengths = [512] * 100
    assert [len(b) for b in batches_for(lengths, 256, "cpu")] == [32, 32, 32, 4]
    assert [len(b) for b in batches_for(lengths, 256, "cuda:0")] == [100]


@pytest.mark.parametrize("cache_mib, width, expected", [
    (32, 1536, 4096),     # all-MiniLM-L6-v2 on a 32 MiB L3: 5461 tokens fit, rounded down to a power of two
    (32, 3072, 2048),     # BERT-base width
    (105, 1536, 16384),   # larger caches stop at the upper bound
    (2, 4096, 1024),      # and small ones at the lower bound
    (None, 1536, 16384),  # cache size unknown
    (32, None, 16384),    # width unknown
])
def test_cpu_budget_is_the_power_of_two_whose_activations_fit_the_cache(monkeypatch, cache_mib, width, expected):
    monkeypatch.setattr(batching, "last_level_cache_bytes", lambda: cache_mib and cache_mib << 20)
    assert cpu_token_budget(width) == expected
    assert token_budget(256, 256, "cpu", width) == expected
    assert token_budget(256, 256, "cuda:0", width) == 256 * 256
    lengths = [256] * 40
    _, index_batches = run_length_sorted(lengths, 64, lambda indices: None, show_progress=False, device="cpu",
                                         activation_width=width)
    assert len(index_batches[0]) == min(40, expected // 256)


def test_restore_list_order_inverts_the_batches():
    lengths = [3, 9, 1, 7]
    index_batches = batches_for(lengths, batch_size=1)
    flat = [f"text{i}" for batch in index_batches for i in batch]
    assert restore_list_order(flat, index_batches) == ["text0", "text1", "text2", "text3"]


def test_restore_order_puts_tensor_rows_back_in_input_order():
    lengths = [4, 17, 1, 9, 9, 2, 30]
    outputs, index_batches = run_length_sorted(
        lengths, 2, lambda indices: torch.tensor([[i, lengths[i]] for i in indices]), show_progress=False)
    restored = restore_order(torch.cat(outputs), index_batches)
    assert restored.tolist() == [[i, n] for i, n in enumerate(lengths)]


def test_empty_input_and_bad_batch_size():
    assert run_length_sorted([], 4, lambda indices: indices, show_progress=False) == ([], [])
    with pytest.raises(ValueError, match=r"^batch_size must be a positive integer, got 0\.$"):
        run_length_sorted([1, 2], 0, lambda indices: indices, show_progress=False)


def test_oom_on_the_first_batch_backs_off_and_covers_every_input(cache_clears, caplog):
    runner = FlakyRunner(fits=3, error=torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"))
    with caplog.at_level(logging.WARNING, logger=batching.__name__):
        outputs, index_batches = run_length_sorted([10] * 8, 8, runner, show_progress=False)
    assert OOM_BACKOFF == 0.75
    assert runner.sizes == [8, 6, 4, 3, 3, 2]  # 8 -> int(8 * 0.75) = 6 -> 4 -> 3 fits, then the rest
    assert outputs == index_batches and sorted(i for b in index_batches for i in b) == list(range(8))
    assert len(cache_clears) == 3
    assert [r.getMessage() for r in caplog.records] == [
        f"Out of memory; retrying with {n} inputs per batch." for n in (6, 4, 3)]


def test_oom_on_a_later_batch_backs_off_from_that_batch(cache_clears):
    lengths = [10] * 4 + [2] * 20  # budget 4 x 10 = 40: one batch of 4, then 20 short inputs in one batch
    runner = FlakyRunner(fits=8, error=RuntimeError("CUDA error: out of memory"))
    _, index_batches = run_length_sorted(lengths, 4, runner, show_progress=False)
    assert runner.sizes == [4, 20, 15, 11, 8, 8, 4]
    assert [len(b) for b in index_batches] == [4, 8, 8, 4]
    assert len(cache_clears) == 3


def test_oom_at_one_input_is_re_raised(cache_clears):
    error = torch.OutOfMemoryError("out of memory")
    runner = FlakyRunner(fits=0, error=error)
    with pytest.raises(torch.OutOfMemoryError) as raised:
        run_length_sorted([5] * 4, 4, runner, show_progress=False)
    assert raised.value is error
    assert runner.sizes == [4, 3, 2, 1]


@pytest.mark.parametrize("error", [ValueError("bad input"), RuntimeError("shape mismatch"), KeyError("x")])
def test_other_errors_are_re_raised_untouched_without_retry(error, cache_clears):
    runner = FlakyRunner(fits=0, error=error)
    with pytest.raises(type(error)) as raised:
        run_length_sorted([5] * 4, 4, runner, show_progress=False)
    assert raised.value is error
    assert runner.sizes == [4] and cache_clears == []


def test_is_out_of_memory():
    assert is_out_of_memory(torch.OutOfMemoryError("anything"))
    assert is_out_of_memory(RuntimeError("CUDA Out Of Memory"))
    assert not is_out_of_memory(RuntimeError("size mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))
