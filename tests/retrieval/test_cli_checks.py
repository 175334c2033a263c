"""The search and ``--compare_to`` flags of the evaluation CLIs are checked before any model loads: one
``error: ...`` line, no traceback, no result folder; result folder names carry every setting that changes results;
``--compare_to`` compares only runs of the same datasets, splits and (90% of the) queries."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator
from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever, EvalRetriever
from FlagEmbedding.evaluation.beir.__main__ import main
from FlagEmbedding.retrieval.index import SearchOptions
from FlagEmbedding.utils.cli import run_cli
from FlagEmbedding.utils.errors import InputError
from tests.helpers import REPO
from tests.helpers.benchmarks import QUERIES, write_beir_layout
from tests.helpers.files import read_json

#: names the registry places without loading anything (the folders do not exist)
DENSE_NAME = "/nonexistent/models/bge-base-en-v1.5"
M3_NAME = "/nonexistent/models/bge-m3"


class ModelLoaded(Exception):
    """Raised instead of loading a model: a run that gets here passed every check made before loading."""


@pytest.fixture
def no_loading(monkeypatch):
    """Any attempt to build the embedder raises :class:`ModelLoaded`."""
    def load(model_args):
        raise ModelLoaded(model_args.embedder_name_or_path)

    monkeypatch.setattr("FlagEmbedding.abc.evaluation.runner.load_embedder", load)


def beir_argv(tmp_path, embedder, *extra):
    root = str(tmp_path / "data")
    if not os.path.isdir(os.path.join(root, "scifact")):
        write_beir_layout(os.path.join(root, "scifact"))
    return ["--eval_name", "beir", "--dataset_dir", root, "--dataset_names", "scifact", "--splits", "test",
            "--corpus_embd_save_dir", str(tmp_path / "embd"), "--output_dir", str(tmp_path / "out"),
            "--eval_output_path", str(tmp_path / "summary.md"), "--k_values", "1", "3",
            "--eval_metrics", "ndcg_at_3", "recall_at_3",
            "--embedder_name_or_path", embedder, "--devices", "cpu", "--embedder_batch_size", "4",
            "--embedder_passage_max_length", "64", "--embedder_query_max_length", "64", *extra]


def one_error_line(capsys, tmp_path, embedder, *extra) -> str:
    """Run the BEIR CLI as a command line; assert it ends in one ``error:`` line, exit status 1 or 2, and left no
    result folder; return the message."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, beir_argv(tmp_path, embedder, *extra))
    assert exit_info.value.code in (1, 2)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    out = tmp_path / "out"
    assert not out.exists() or os.listdir(out) == []
    return lines[0]


# ------------------------------------------------------------------------------------------------ item 11
@pytest.mark.parametrize("flags, needs", [
    (["--search_method", "sparse"], "sparse"),
    (["--search_method", "colbert"], "colbert"),
    (["--search_method", "hybrid", "--hybrid_methods", "dense", "sparse"], "sparse"),
    (["--search_method", "all"], "sparse and colbert"),
])
def test_m3_methods_with_a_dense_only_model_are_one_line_before_loading(capsys, tmp_path, no_loading, flags, needs):
    line = one_error_line(capsys, tmp_path, DENSE_NAME, *flags)
    assert line.startswith(f"error: --search_method {flags[1]}")
    assert f"needs {needs} vectors, which only an M3 model has" in line
    assert "use --search_method dense, bm25 or hybrid" in line and "--embedder_model_class encoder-only-m3" in line


def test_m3_detection_follows_the_model_class_flag_then_the_registry(capsys, tmp_path, no_loading):
    line = one_error_line(capsys, tmp_path, M3_NAME, "--search_method", "sparse",
                          "--embedder_model_class", "encoder-only-base")
    assert "needs sparse vectors" in line
    with pytest.raises(ModelLoaded):  # declared M3: the checks pass, the model would load now
        main(beir_argv(tmp_path, DENSE_NAME, "--search_method", "sparse", "--embedder_model_class", "encoder-only-m3"))
    with pytest.raises(ModelLoaded):  # bge-m3 in the registry
        main(beir_argv(tmp_path, M3_NAME, "--search_method", "all"))


def test_m3_method_with_a_real_dense_model_is_one_line_in_a_subprocess(tmp_path, tiny_bert):
    process = subprocess.run([sys.executable, "-m", "FlagEmbedding.evaluation.beir",
                              *beir_argv(tmp_path, tiny_bert, "--search_method", "colbert")],
                             cwd=REPO, capture_output=True, text=True, timeout=600)
    assert process.returncode == 1
    assert "Traceback" not in process.stderr
    assert process.stderr.splitlines()[-1].startswith("error: --search_method colbert needs colbert vectors")
    assert not (tmp_path / "out").exists() and not (tmp_path / "embd").exists()


def test_a_runner_with_its_own_models_is_checked_once_they_load(tmp_path):
    """get_models overridden: nothing is known before loading; the loaded model is checked (InputError, one line
    on a command line) before anything is encoded or any folder is made."""
    from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalRunner
    from tests.helpers.benchmarks import model_args

    class DenseStub:
        model_name_or_path = "/stub/dense-model"

    class OwnModels(BEIREvalRunner):
        @staticmethod
        def get_models(args):
            return DenseStub(), None

    write_beir_layout(str(tmp_path / "data" / "scifact"))
    eval_args = BEIREvalArgs(eval_name="beir", dataset_dir=str(tmp_path / "data"), dataset_names=["scifact"],
                             output_dir=str(tmp_path / "out"), eval_output_path=str(tmp_path / "s.md"),
                             search_method="sparse")
    with pytest.raises(InputError, match=r"^--search_method sparse needs sparse vectors"):
        OwnModels(eval_args, model_args("/stub/dense-model")).run()
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------ item 9
@pytest.mark.parametrize("flags, message", [
    (["--search_method", "hybrid", "--hybrid_methods", "dense", "bm25", "--fusion_weights", "1", "nan"],
     "error: --fusion_weights must be finite numbers >= 0, got 1.0 nan."),
    (["--search_method", "hybrid", "--fusion_weights", "inf", "1"],
     "error: --fusion_weights must be finite numbers >= 0, got inf 1.0."),
    (["--search_method", "hybrid", "--fusion_weights", "1", "-0.5"],
     "error: --fusion_weights must be finite numbers >= 0, got 1.0 -0.5."),
    (["--search_method", "hybrid", "--fusion_weights", "0", "0"],
     "error: --fusion_weights must not all be 0 (every fused score would be 0)."),
    (["--search_method", "all", "--m3_weights", "1", "nan", "1"],
     "error: --m3_weights must be finite numbers >= 0, got 1.0 nan 1.0."),
    (["--search_method", "all", "--m3_weights", "1", "-1", "1"],
     "error: --m3_weights must be finite numbers >= 0, got 1.0 -1.0 1.0."),
])
def test_non_finite_or_negative_weights_are_refused(capsys, tmp_path, no_loading, flags, message):
    line = one_error_line(capsys, tmp_path, M3_NAME, *flags)
    assert line.split(" (see `")[0] == message


@pytest.mark.parametrize("embedder, flags, message", [
    (DENSE_NAME, ["--search_method", "hybrid", "--fusion_weights", "1", "0.3", "0.03"],
     "error: --fusion_weights has 3 values for the 2 methods fused (dense bm25: the default --hybrid_methods of a "
     "dense-only model); give one weight per method, in that order, or set --hybrid_methods."),
    (M3_NAME, ["--search_method", "all", "--fusion_weights", "1"],
     "error: --fusion_weights has 1 values for the 2 methods fused (dense sparse: the default --hybrid_methods of "
     "an M3 model); give one weight per method, in that order, or set --hybrid_methods."),
])
def test_fusion_weights_are_counted_against_the_default_methods_before_loading(capsys, tmp_path, no_loading,
                                                                              embedder, flags, message):
    assert one_error_line(capsys, tmp_path, embedder, *flags) == message


@pytest.mark.parametrize("flags, message", [
    (["--search_method", "hybrid", "--fusion", "rrf", "--fusion_weights", "1", "0.5"],
     r"^--fusion_weights applies to --search_method hybrid or all with --fusion weighted"),
    (["--search_method", "dense", "--hybrid_methods", "dense", "bm25"],
     r"^--hybrid_methods applies to --search_method hybrid or all, not dense\.$"),
    (["--search_method", "hybrid", "--m3_weights", "1", "0", "1"],
     r"^--m3_weights applies to --search_method all, not hybrid\.$"),
    (["--search_method", "hybrid", "--rrf_k", "10"],
     r"^--rrf_k applies to --search_method hybrid or all with --fusion rrf"),
    (["--search_method", "bm25", "--faiss_index_factory", "HNSW32"],
     r"^--faiss_index_factory applies to a dense first-stage search; --search_method bm25 does not use one\.$"),
])
def test_flags_the_method_would_ignore_are_refused(flags, message):
    from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalModelArgs
    from FlagEmbedding.utils.cli import ArgumentParser

    with pytest.raises(InputError, match=message):
        ArgumentParser((BEIREvalArgs, BEIREvalModelArgs)).parse_args_into_dataclasses(
            ["--eval_name", "x", "--embedder_name_or_path", "m", *flags])


class Stub:
    model_name_or_path = "/stub/model"


def test_folder_names_carry_every_setting_that_changes_results():
    def tag(**options):
        return SearchOptions(**options).tag(False)

    # weights that differ beyond %g's 6 digits rank differently: they must not share a folder
    assert tag(method="hybrid", hybrid_methods=["dense", "bm25"], fusion_weights=[1, 0.3]) \
        == "hybrid-weighted-dense=1+bm25=0.3"
    assert tag(method="hybrid", hybrid_methods=["dense", "bm25"], fusion_weights=[1, 0.30000001]) \
        == "hybrid-weighted-dense=1+bm25=0.30000001"
    assert tag(method="all", m3_weights=[1, 0.3, 1.0000001]) != tag(method="all", m3_weights=[1, 0.3, 1])
    assert tag(method="hybrid", fusion="rrf", rrf_k=10) != tag(method="hybrid", fusion="rrf")
    assert tag(method="colbert", rerank_top_k=5) != tag(method="colbert")

    def name(top_k=1000, factory=None, **options):
        return str(EvalDenseRetriever(Stub(), search_top_k=top_k, search_options=SearchOptions(**options),
                                      faiss_factory=factory))

    assert name() == "model" and name(top_k=10) == "model"  # exact dense: a shorter list, the same ranking
    assert name(method="hybrid") == "model@hybrid-weighted-dense=1+bm25=0.03"
    # the candidate depth changes the fused / reranked ranking itself
    assert name(top_k=100, method="hybrid") == "model@hybrid-weighted-dense=1+bm25=0.03-depth100"
    assert name(top_k=100, method="colbert") == "model@colbert-top100-depth100"
    assert name(method="bm25", top_k=10) == "model@bm25"
    assert name(factory="HNSW32", method="dense") == "model@dense-faiss-HNSW32"
    assert name(factory="HNSW32", method="bm25") == "model@bm25"  # no dense search: the factory changes nothing


def test_a_failed_first_stage_leaves_no_empty_result_folder(tmp_path):
    from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalRunner
    from tests.helpers.benchmarks import model_args

    class Failing(EvalRetriever):
        def __call__(self, corpus, queries, corpus_embd_save_dir=None, ignore_identical_ids=False, **kwargs):
            raise RuntimeError("failed while searching")

    class FailingRunner(BEIREvalRunner):
        def load_retriever_and_reranker(self):
            return Failing(Stub()), None

    write_beir_layout(str(tmp_path / "data" / "scifact"))
    eval_args = BEIREvalArgs(eval_name="beir", dataset_dir=str(tmp_path / "data"), dataset_names=["scifact"],
                             output_dir=str(tmp_path / "out"), eval_output_path=str(tmp_path / "s.md"))
    with pytest.raises(RuntimeError, match="failed while searching"):
        FailingRunner(eval_args, model_args("/stub/model")).run()
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


# ------------------------------------------------------------------------------------------------ item 10
def write_result(folder, name, dataset_name="scifact", split="test", queries=QUERIES, eval_name="beir"):
    results = {qid: {"d1": 1.0, "d2": 0.5} for qid in queries}
    AbsEvaluator.save_search_results(eval_name, "m", "NoReranker", results, os.path.join(folder, name), split,
                                     dataset_name, sub_dataset_name=None)


def test_compare_to_missing_folder_is_refused_before_loading(capsys, tmp_path, no_loading):
    missing = str(tmp_path / "no-such-run" / "NoReranker")
    line = one_error_line(capsys, tmp_path, DENSE_NAME, "--compare_to", missing)
    assert line.startswith(f"error: --compare_to {missing}: no such folder; pass the results folder")


def test_compare_to_a_folder_without_results_is_refused(capsys, tmp_path, no_loading):
    model_folder = tmp_path / "earlier" / "bge-base-en-v1.5"
    write_result(str(model_folder / "NoReranker"), "scifact-test.json")
    line = one_error_line(capsys, tmp_path, DENSE_NAME, "--compare_to", str(model_folder))
    assert line == (f"error: --compare_to {model_folder}: not a results folder: it holds no result .json file (its "
                    "sub-folders: NoReranker); pass a folder such as <output_dir>/<model>/NoReranker.")


def test_compare_to_results_of_another_dataset_or_split_is_refused(capsys, tmp_path, no_loading):
    other = tmp_path / "other"
    write_result(str(other), "nfcorpus-test.json", dataset_name="nfcorpus")
    line = one_error_line(capsys, tmp_path, DENSE_NAME, "--compare_to", str(other))
    assert line == (f"error: --compare_to {other} holds no results of scifact-test (it holds nfcorpus-test); "
                    "compare with the results of the same datasets and splits.")
    renamed = tmp_path / "renamed"
    write_result(str(renamed), "scifact-test.json", dataset_name="nfcorpus")
    line = one_error_line(capsys, tmp_path, DENSE_NAME, "--compare_to", str(renamed))
    assert line == (f"error: --compare_to {renamed}: scifact-test.json holds results with dataset_name 'nfcorpus', "
                    "this run evaluates 'scifact'; compare with the results of the same datasets and splits.")
    with pytest.raises(ModelLoaded):  # the right baseline passes the checks
        good = tmp_path / "good"
        write_result(str(good), "scifact-test.json")
        main(beir_argv(tmp_path, DENSE_NAME, "--compare_to", str(good)))


def test_compare_to_needs_90_percent_of_the_query_ids_and_reports_the_overlap(capsys, tmp_path, tiny_bert):
    argv = beir_argv(tmp_path, tiny_bert, "--search_method", "bm25", "--search_top_k", "5")
    main(argv)
    ours = tmp_path / "out" / "bge-base-en-v1.5@bm25" / "NoReranker" / "scifact-test.json"

    disjoint = tmp_path / "disjoint"  # same dataset and split, other query ids: the p = 1e-31 case
    write_result(str(disjoint), "scifact-test.json", queries={"x1": "a", "x2": "b", "x3": "c"})
    with pytest.raises(SystemExit) as exit_info:
        run_cli(main, argv + ["--compare_to", str(disjoint)])
    assert exit_info.value.code == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert err == [f"error: --compare_to {disjoint}: scifact-test.json shares 0 query ids with this run's 3 (0.0% "
                   "of the ids either holds), below the 90% a paired comparison needs; compare with results of the "
                   "same queries."]

    partial = tmp_path / "partial"  # 2 of 3 queries: 66.7%
    data = read_json(str(ours))
    del data["search_results"]["q3"]
    os.makedirs(partial)
    with open(partial / "scifact-test.json", "w", encoding="utf-8") as f:
        json.dump(data, f)
    with pytest.raises(SystemExit):
        run_cli(main, argv + ["--compare_to", str(partial)])
    assert "shares 2 query ids with this run's 3 (66.7% of the ids either holds)" in capsys.readouterr().err

    same = tmp_path / "same"
    shutil.copytree(ours.parent, same)
    main(argv + ["--compare_to", str(same)])
    table = open(str(tmp_path / "summary.md") + ".compare-bge-base-en-v1.5@bm25.md", encoding="utf-8").read()
    assert "| queries | query-id overlap |" in table
    line = next(l for l in table.splitlines() if "| ndcg_at_3 |" in l)
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[5:] == ["+0.000", "1", "3", "100.0%"]


def test_the_auto_class_is_resolved_without_loading():
    from FlagEmbedding.abc.evaluation.checks import embedder_is_m3
    from FlagEmbedding.inference.auto_embedder import FlagAutoModel
    from FlagEmbedding.inference.embedder.encoder_only import BGEM3FlagModel, FlagModel
    from tests.helpers.benchmarks import model_args

    assert FlagAutoModel.embedder_class(M3_NAME) is BGEM3FlagModel
    assert FlagAutoModel.embedder_class(DENSE_NAME) is FlagModel
    assert FlagAutoModel.embedder_class(M3_NAME, "encoder-only-base") is FlagModel
    assert FlagAutoModel.embedder_class("/nonexistent/checkpoint-10", "encoder-only-m3") is BGEM3FlagModel
    with pytest.raises(InputError, match="not found in the model mapping"):
        FlagAutoModel.embedder_class("/nonexistent/unknown-model")
    assert embedder_is_m3(model_args(M3_NAME)) is True
    assert embedder_is_m3(model_args(DENSE_NAME)) is False
    assert embedder_is_m3(model_args("/nonexistent/unknown-model")) is None  # left to the model loading


def test_benchmarks_without_per_query_judgements_refuse_compare_to(tmp_path, no_loading):
    from FlagEmbedding.evaluation.mkqa import MKQAEvalArgs, MKQAEvalRunner
    from tests.helpers.benchmarks import model_args, write_mkqa_layout

    write_mkqa_layout(str(tmp_path / "mkqa"), ["en"])
    baseline = tmp_path / "baseline"
    write_result(str(baseline), "en-test.json", dataset_name="en", eval_name="mkqa")
    args = MKQAEvalArgs(eval_name="mkqa", dataset_dir=str(tmp_path / "mkqa"), dataset_names=["en"],
                        output_dir=str(tmp_path / "out"), eval_output_path=str(tmp_path / "s.md"),
                        compare_to=str(baseline))
    with pytest.raises(InputError, match=r"^--compare_to is not available for mkqa"):
        MKQAEvalRunner(args, model_args(DENSE_NAME)).run()
    assert not (tmp_path / "out").exists()


def test_mteb_refuses_compare_to_before_loading(tmp_path, no_loading):
    from FlagEmbedding.evaluation.mteb import MTEBEvalArgs, MTEBEvalRunner
    from tests.helpers.benchmarks import model_args

    args = MTEBEvalArgs(eval_name="mteb", output_dir=str(tmp_path / "out"), compare_to=str(tmp_path))
    with pytest.raises(InputError, match=r"^--compare_to is not available for MTEB"):
        MTEBEvalRunner(args, model_args(DENSE_NAME)).run()
