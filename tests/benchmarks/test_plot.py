"""``benchmarks/plot.py``: the committed ``--json`` results become every documented figure (valid PNG and SVG,
byte-identical when drawn twice) and the tables committed beside them; a results file missing a field stops it
with one ``error:`` line and writes nothing."""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

pytest.importorskip("matplotlib")

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = sorted(glob.glob(os.path.join(REPO, "benchmarks", "results", "*.json")))
FIGURES = os.path.join(REPO, "docs", "_static", "figures")
#: the figures the Benchmarks page shows, and the benchmark file each is drawn from
EXPECTED = {"encode_throughput": "encode_throughput", "scifact_e2e": "eval_beir_e2e",
            "search_methods": "search_methods", "serve_load": "serve_load"}


def plot(inputs, out):
    """Run ``python benchmarks/plot.py INPUTS --out OUT``; the completed process."""
    return subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "plot.py"), *inputs, "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": REPO}, timeout=300)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """The committed results drawn twice into two folders."""
    first, second = tmp_path_factory.mktemp("first"), tmp_path_factory.mktemp("second")
    for out in (first, second):
        done = plot(RESULTS, out)
        assert done.returncode == 0, done.stderr
    return first, second


def test_every_documented_figure_has_its_committed_results_file():
    benchmarks = set()
    for path in RESULTS:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        assert document["cpu_model"] and document["date"] and document["command"][1].startswith("benchmarks/")
        benchmarks.add(document["benchmark"])
    assert set(EXPECTED.values()) <= benchmarks


def test_every_figure_is_a_valid_png_and_svg_and_drawing_is_reproducible(drawn):
    first, second = drawn
    for name in EXPECTED:
        with open(first / f"{name}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
        assert ElementTree.parse(first / f"{name}.svg").getroot().tag == "{http://www.w3.org/2000/svg}svg"
        for suffix in (".png", ".svg", ".csv"):
            assert (first / (name + suffix)).read_bytes() == (second / (name + suffix)).read_bytes(), name + suffix


def test_the_committed_figures_and_tables_are_the_ones_the_committed_results_give(drawn):
    first, _ = drawn
    for name in EXPECTED:
        for suffix in (".png", ".svg", ".csv"):
            committed = os.path.join(FIGURES, name + suffix)
            assert os.path.isfile(committed), f"{committed} is missing: run the command in docs/benchmarks.rst"
        with open(os.path.join(FIGURES, name + ".csv"), encoding="utf-8") as f:
            assert f.read() == (first / f"{name}.csv").read_text(encoding="utf-8"), name


def test_a_results_file_missing_a_field_is_one_error_line_and_nothing_is_written(tmp_path):
    source = next(path for path in RESULTS if os.path.basename(path).startswith("encode_throughput"))
    with open(source, encoding="utf-8") as f:
        document = json.load(f)
    del document["cpu_model"]
    broken = tmp_path / "encode.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    done = plot(RESULTS + [str(broken)], tmp_path / "out")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: {broken}: the field 'cpu_model' is missing; rerun python benchmarks/encode_throughput.py with "
        "--json to write a complete file"]
    assert not (tmp_path / "out").exists()


def test_a_row_missing_a_field_names_the_row(tmp_path):
    source = next(path for path in RESULTS if os.path.basename(path).startswith("serve_load"))
    with open(source, encoding="utf-8") as f:
        document = json.load(f)
    del document["results"][1]["passages_per_s"]
    broken = tmp_path / "serve.json"
    broken.write_text(json.dumps(document), encoding="utf-8")
    done = plot([str(broken)], tmp_path / "out")
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"error: {broken}: results[1] lacks the field 'passages_per_s'; rerun python benchmarks/serve_load.py "
        "with --json to write a complete file"]
