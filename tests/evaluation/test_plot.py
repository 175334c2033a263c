"""``--plot PATH`` of the evaluation CLIs: a bar chart of the first ``--eval_metrics`` per dataset/split and
model/search method, written as PNG or SVG; the values drawn are the metrics of the run's result files."""
from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree

import pytest

from FlagEmbedding.abc.evaluation import runner as runner_module
from FlagEmbedding.evaluation.custom.__main__ import main
from FlagEmbedding.utils.cli import run_cli
from tests.helpers.benchmarks import flags
from tests.helpers.files import read_json

pytest.importorskip("matplotlib")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(REPO, "examples", "data", "demo")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def evaluate(root: str, model: str, **overrides: object) -> None:
    """The custom CLI on the demo data (in this process), results under ``root/out``."""
    values = dict(eval_name="demo", dataset_dir=DEMO, output_dir=os.path.join(root, "out"),
                  corpus_embd_save_dir=os.path.join(root, "embd"), eval_output_path=os.path.join(root, "summary.md"),
                  k_values=[1, 10], eval_metrics=["ndcg_at_10", "recall_at_10"], embedder_name_or_path=model,
                  pooling_method="mean", devices="cpu", embedder_batch_size=8, embedder_query_max_length=32,
                  embedder_passage_max_length=32)
    values.update(overrides)
    run_cli(main, flags(values))


@pytest.fixture(scope="module")
def plotted(tmp_path_factory, bge_large):
    """A dense run, then a BM25 run with ``--plot`` (PNG): the values the CLI drew, and the root folder."""
    root = str(tmp_path_factory.mktemp("plot"))
    evaluate(root, bge_large)
    drawn = []
    original = runner_module.plot_eval_metric

    def recording(results, path, metric):
        drawn.append((path, metric, original(results, path, metric)))
        return drawn[-1][2]

    runner_module.plot_eval_metric = recording
    try:
        evaluate(root, bge_large, search_method="bm25", plot=os.path.join(root, "figures", "ndcg.png"))
    finally:
        runner_module.plot_eval_metric = original
    return root, drawn


def test_the_figure_is_a_png_of_the_first_metric_with_the_result_files_values(plotted):
    root, drawn = plotted
    ((path, metric, values),) = drawn
    assert path == os.path.join(root, "figures", "ndcg.png") and metric == "ndcg_at_10"
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    expected = {}
    for model in ("bge-large-en-v1.5", "bge-large-en-v1.5@bm25"):
        metrics = read_json(os.path.join(root, "out", model, "NoReranker", "EVAL", "eval_results.json"))
        expected[f"{model} / NoReranker"] = {column: m["ndcg_at_10"] * 100 for column, m in metrics.items()}
    assert list(values) == list(expected)
    for label, columns in expected.items():
        assert values[label] == pytest.approx(columns)
    assert list(expected["bge-large-en-v1.5 / NoReranker"]) == ["test"]


def test_an_svg_suffix_writes_valid_svg_and_regeneration_is_byte_identical(tmp_path, plotted):
    from FlagEmbedding.utils.plot import plot_eval_metric

    results = runner_module.AbsEvalRunner.evaluate_metrics(os.path.join(plotted[0], "out"),
                                                           output_path=str(tmp_path / "summary.md"))
    first, second = str(tmp_path / "a.svg"), str(tmp_path / "b.svg")
    values = plot_eval_metric(results, first, "recall_at_10")
    plot_eval_metric(results, second, "recall_at_10")
    assert ElementTree.parse(first).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    assert set(values) == {"bge-large-en-v1.5 / NoReranker", "bge-large-en-v1.5@bm25 / NoReranker"}


@pytest.mark.parametrize("path, message", [
    ("figure.jpg", "error: --plot figure.jpg: the figure's file name must end in .png or .svg; pass e.g. "
                   "--plot eval_results.png"),
])
def test_a_wrong_suffix_is_one_error_line_before_any_work(tmp_path, capsys, path, message):
    with pytest.raises(SystemExit) as exit_info:
        evaluate(str(tmp_path), "/nonexistent/model/never-loaded", plot=path)
    assert exit_info.value.code != 0
    assert capsys.readouterr().err.strip().splitlines() == [message]
    assert not os.path.exists(tmp_path / "out")


def test_missing_matplotlib_is_a_clear_error(tmp_path, capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(SystemExit):
        evaluate(str(tmp_path), "/nonexistent/model/never-loaded", plot="figure.svg")
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --plot needs matplotlib, which is not installed; pip install 'FlagEmbedding[eval]' (or pip install "
        "matplotlib), or leave out the flag"]
