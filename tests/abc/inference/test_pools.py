"""One pool lifecycle: pools keyed by the method their workers run, at most one alive, one stop path."""
import pytest

from FlagEmbedding import BGEM3FlagModel, FlagReranker
from tests import tiny_models

PAIRS = [["what is a panda?", "The giant panda is a bear."], ["capital of France", "Paris is the capital."],
         ["hi", "hello there"]]
TEXTS = ["a quick brown fox", "jumps over the lazy dog", "hello world"]


@pytest.fixture(scope="module")
def m3_pair(tiny_xlmr_m3):
    single = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu", use_fp16=False)
    multi = BGEM3FlagModel(tiny_xlmr_m3, devices=["cpu", "cpu"], use_fp16=False)
    yield single, multi
    multi.stop_self_pool()


def test_m3_compute_score_reuses_one_pool_keyed_by_its_method(m3_pair):
    single, multi = m3_pair
    expected = single.compute_score(PAIRS)
    assert multi.compute_score(PAIRS)["dense"] == pytest.approx(expected["dense"], abs=1e-6)
    pool = multi.pools["compute_score_single_device"]
    pids = [process.pid for process in pool.processes]
    assert multi.compute_score(PAIRS)["colbert"] == pytest.approx(expected["colbert"], abs=1e-6)
    assert [process.pid for process in multi.pools["compute_score_single_device"].processes] == pids
    assert multi.pool is None  # the encode pool (the original's ``self.pool``) is another key


def test_starting_another_methods_pool_stops_the_running_one(m3_pair):
    single, multi = m3_pair
    multi.compute_score(PAIRS)
    score_pool = multi.pools["compute_score_single_device"]
    dense = multi.encode(TEXTS)["dense_vecs"]
    assert score_pool.processes == [] and list(multi.pools) == ["encode_single_device"]
    assert multi.pool is multi.pools["encode_single_device"] and len(multi.pool.processes) == 2
    assert dense == pytest.approx(single.encode(TEXTS)["dense_vecs"], abs=1e-6)
    multi.stop_pools()
    assert multi.pools == {} and multi.pool is None


class InProcessPool:
    """A pool whose "workers" run in this process: two chunks, each through the named method (what the
    worker processes of ``MultiProcessPool`` do), so the callers' merging is checked without spawning."""

    def __init__(self, target, method_name):
        self.method = getattr(target, method_name)

    def map(self, inputs, kwargs):
        half = (len(inputs) + 1) // 2
        return [self.method(chunk, device="cpu", **kwargs) for chunk in (inputs[:half], inputs[half:]) if chunk]


def test_explicit_pools_for_the_originals_multi_process_methods(m3_pair, tmp_path_factory):
    single, _ = m3_pair
    pool = InProcessPool(single, "compute_score_single_device")
    scores = single.compute_score_multi_process(PAIRS, pool)
    assert single.compute_score_multi_process([], pool) == {key: [] for key in scores}
    for key, values in single.compute_score(PAIRS).items():
        assert scores[key] == pytest.approx(values, abs=1e-6), key

    folder = tiny_models.save_tiny_xlmr(str(tmp_path_factory.mktemp("rr") / "bge-reranker-v2-m3"), classifier=True,
                                        m3_heads=False)
    reranker = FlagReranker(folder, devices="cpu", max_length=32)
    pairs = reranker.get_detailed_inputs(PAIRS)
    pool = InProcessPool(reranker, "compute_score_single_gpu")
    assert reranker.encode_multi_process(pairs, pool) == pytest.approx(reranker.compute_score(PAIRS), abs=1e-6)
    assert reranker.encode_multi_process([], pool) == []


def test_stop_multi_process_pool_stops_a_started_pool(m3_pair):
    _, multi = m3_pair
    pool = multi.start_multi_process_pool("compute_score_single_device")
    assert len(pool.processes) == 2 and multi.pools == {}  # the caller owns it
    multi.stop_multi_process_pool(pool)
    assert pool.processes == []
