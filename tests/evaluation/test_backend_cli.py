"""``--embedder_backend`` / ``--embedder_quantize`` (and the reranker's) on the evaluation command line: ONNX fp32
gives the torch metrics, each runtime gets its own results folder and corpus-cache entry, int8 is never reused
for fp32."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

from FlagEmbedding.evaluation.custom.__main__ import main
from FlagEmbedding.utils.cli import run_cli
from tests import tiny_models
from tests.helpers.benchmarks import flags, write_library_layout
from tests.helpers.files import read_json

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def evaluate(root, data, embedder, reranker=None, **overrides):
    """``python -m FlagEmbedding.evaluation.custom`` with these flags, in this process (mean pooling: the tiny
    model's CLS vectors are all alike)."""
    values = dict(eval_name="mine", dataset_dir=data, output_dir=os.path.join(root, "out"),
                  corpus_embd_save_dir=os.path.join(root, "embd"), onnx_cache_dir=os.path.join(root, "onnx"),
                  eval_output_path=os.path.join(root, "summary.md"), k_values=[1, 3, 10],
                  embedder_name_or_path=embedder, pooling_method="mean", devices="cpu", embedder_batch_size=4,
                  embedder_query_max_length=64, embedder_passage_max_length=64)
    if reranker:
        values.update(reranker_name_or_path=reranker, reranker_batch_size=4, reranker_max_length=64, rerank_top_k=5)
    values.update(overrides)
    run_cli(main, flags(values))


def results(root, folder, stage="NoReranker"):
    """``(metrics, {qid: {docid: score}})`` of one results folder."""
    path = os.path.join(root, "out", folder, stage)
    (result_file,) = [name for name in os.listdir(path) if name.endswith(".json") and name != "result_sources.json"]
    return read_json(os.path.join(path, "EVAL", "eval_results.json")), read_json(os.path.join(path, result_file))["search_results"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, bge_large):
    """torch, ONNX fp32 and ONNX int8 runs of the custom CLI into one output folder and one corpus cache."""
    root = str(tmp_path_factory.mktemp("backends"))
    data = write_library_layout(os.path.join(root, "data"))
    reranker = tiny_models.save_tiny_bert_classifier(os.path.join(root, "models", "bge-reranker-base"))
    for options in ({}, {"embedder_backend": "onnx", "reranker_backend": "onnx"},
                    {"embedder_backend": "onnx", "embedder_quantize": "int8"}):
        evaluate(root, data, bge_large, reranker if "reranker_backend" in options or not options else None, **options)
    return root, data, bge_large


def test_each_runtime_has_its_own_results_folder_and_onnx_fp32_gives_the_torch_metrics(runs):
    root, _, _ = runs
    assert sorted(os.listdir(os.path.join(root, "out"))) == [
        "bge-large-en-v1.5", "bge-large-en-v1.5+onnx", "bge-large-en-v1.5+onnx-int8"]
    torch_metrics, torch_hits = results(root, "bge-large-en-v1.5")
    onnx_metrics, onnx_hits = results(root, "bge-large-en-v1.5+onnx")
    assert onnx_metrics == torch_metrics
    assert onnx_hits.keys() == torch_hits.keys()
    for qid, hits in torch_hits.items():
        assert list(onnx_hits[qid]) == list(hits)  # same ranking
        np.testing.assert_allclose(list(onnx_hits[qid].values()), list(hits.values()), atol=1e-5)

    rerank_torch, scores_torch = results(root, "bge-large-en-v1.5", "bge-reranker-base")
    rerank_onnx, scores_onnx = results(root, "bge-large-en-v1.5+onnx", "bge-reranker-base+onnx")
    assert rerank_onnx == rerank_torch
    for qid, hits in scores_torch.items():
        np.testing.assert_allclose([scores_onnx[qid][d] for d in hits], list(hits.values()), atol=1e-5)

    int8_metrics, int8_hits = results(root, "bge-large-en-v1.5+onnx-int8")
    assert int8_metrics.keys() == torch_metrics.keys()
    assert any(not np.allclose([int8_hits[q].get(d, np.nan) for d in hits], list(hits.values()), atol=1e-5)
               for q, hits in torch_hits.items())  # it really ran int8


def test_int8_corpus_cache_is_an_entry_of_its_own(runs):
    root, _, _ = runs
    manifests = sorted(glob.glob(os.path.join(root, "embd", "**", "manifest.json"), recursive=True))
    assert len(manifests) == 3
    settings = []
    for path in manifests:
        with open(path, encoding="utf-8") as f:
            model = json.load(f)["identity"]["model"]["settings"]
        settings.append((model.get("backend", "torch"), model.get("quantize")))
    assert sorted(settings, key=str) == sorted([("torch", None), ("onnx", None), ("onnx", "int8")], key=str)
    graphs = []
    for path in glob.glob(os.path.join(root, "onnx", "*", "manifest.json")):
        with open(path, encoding="utf-8") as f:
            identity = json.load(f)["identity"]
        graphs.append((os.path.basename(identity["model"]), identity["quantize"]))
    assert sorted(graphs, key=str) == sorted([("bge-large-en-v1.5", None), ("bge-large-en-v1.5", "int8"),
                                              ("bge-reranker-base", None)], key=str)


def test_a_second_fp32_onnx_run_reuses_its_own_results(runs):
    root, data, embedder = runs
    folder = os.path.join(root, "out", "bge-large-en-v1.5+onnx", "NoReranker")
    before = {name: os.path.getmtime(os.path.join(folder, name)) for name in os.listdir(folder) if name.endswith(".json")}
    evaluate(root, data, embedder, embedder_backend="onnx")
    assert {name: os.path.getmtime(os.path.join(folder, name)) for name in before} == before


def test_int8_without_onnx_is_a_one_line_error(tmp_path, bge_large, capsys):
    data = write_library_layout(str(tmp_path / "data"))
    with pytest.raises(SystemExit) as exit_info:
        evaluate(str(tmp_path), data, bge_large, embedder_quantize="int8")
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == ("error: --embedder_quantize int8 needs --embedder_backend onnx (int8 weights "
                                       "run in ONNX Runtime).\n")
    assert not os.path.exists(tmp_path / "out")


def test_example_script_runs_the_three_runtimes(tmp_path):
    from tests.evaluation.test_examples import parse, script_commands

    script = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "onnx", "eval_scifact_backends.sh")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SCIFACT_ROOT": "/data/beir", "MINILM": "/m/minilm"}
    runtimes = []
    for command in script_commands(script, env):
        (eval_args, model_args), _ = parse(command)
        assert (eval_args.dataset_dir, eval_args.dataset_names, model_args.embedder_name_or_path) == (
            "/data/beir", ["scifact"], "/m/minilm")
        runtimes.append((model_args.embedder_backend, model_args.embedder_quantize))
    assert runtimes == [("torch", "none"), ("onnx", "none"), ("onnx", "int8")]
