"""Every command line ends a user error in one ``error: ...`` line (no traceback); bugs keep their traceback.

The real entry points run in subprocesses; each test asserts the exact stderr line and the exit status.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

import pytest

from tests.helpers import REPO
from tests.helpers.benchmarks import write_library_layout

BEIR_HELP = "(see `python -m FlagEmbedding.evaluation.beir --help`)"


def run(argv: List[str], env: Optional[Dict[str, str]] = None, cwd: str = REPO) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1", **(env or {})}
    environ.pop("FLAGEMBEDDING_DEBUG", None) if "FLAGEMBEDDING_DEBUG" not in (env or {}) else None
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=300)


def error_line(process: subprocess.CompletedProcess) -> str:
    """The last stderr line, after checking there is no traceback."""
    assert "Traceback" not in process.stderr, process.stderr
    return process.stderr.strip().splitlines()[-1]


def module_with(patch: str, module: str, argv: List[str]) -> List[str]:
    """``python -c``: apply ``patch`` then run ``module`` as ``__main__`` with ``argv``."""
    code = (f"import runpy, sys\n{patch}\nsys.argv = {[module] + argv!r}\n"
            f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)\n")
    return ["-c", code]


def test_unknown_flag_is_one_line_with_did_you_mean():
    process = run(["-m", "FlagEmbedding.evaluation.beir", "--eval_name", "x", "--embedder_name_or_path", "m",
                   "--dataset_name", "scifact"])
    assert process.returncode == 2
    assert process.stderr == ("error: unrecognized arguments: --dataset_name scifact; did you mean --dataset_names? "
                              f"{BEIR_HELP}\n")


def test_bad_flag_value_is_one_line():
    process = run(["-m", "FlagEmbedding.evaluation.beir", "--eval_name", "x", "--embedder_name_or_path", "m",
                   "--search_top_k", "0"])
    assert process.returncode == 1
    assert process.stderr == "error: --search_top_k must be a positive integer, got 0.\n"
    process = run(["-m", "FlagEmbedding.evaluation.beir", "--eval_name", "x", "--embedder_name_or_path", "m",
                   "--search_top_k", "many"])
    assert process.returncode == 2
    assert process.stderr == f"error: argument --search_top_k/--search-top-k: invalid int value: 'many' {BEIR_HELP}\n"


def test_help_shows_the_real_prog_a_description_and_honest_flag_help():
    process = run(["-m", "FlagEmbedding.evaluation.beir", "--help"])
    assert process.returncode == 0
    out = process.stdout
    assert out.startswith("usage: python -m FlagEmbedding.evaluation.beir [-h]")
    assert ("Evaluate an embedder (and optional reranker) on BEIR datasets and write a metrics summary."
            in " ".join(out.split()))
    eval_name_help = out.split("--eval_name EVAL_NAME, --eval-name EVAL_NAME")[1].split("--dataset_dir")[0]
    assert "required" not in eval_name_help
    no_normalize = out.split("--no_normalize_embeddings, --no-normalize-embeddings")[1].split("--pooling_method")[0]
    assert " ".join(no_normalize.split()) == "Turn off --normalize_embeddings."


def test_prefix_abbreviations_are_off_everywhere(tmp_path):
    process = run(["-m", "FlagEmbedding.finetune.embedder.encoder_only.base", "--model_name_or_path", "m",
                   "--output_dir", str(tmp_path / "out"), "--train_dat", "x.jsonl"])
    assert process.returncode == 2
    assert process.stderr == ("error: unrecognized arguments: --train_dat x.jsonl; did you mean --train_data? "
                              "(see `python -m FlagEmbedding.finetune.embedder.encoder_only.base --help`)\n")


def test_script_unknown_flag_names_the_script(tmp_path):
    process = run(["scripts/hn_mine.py", "--input_file", "a", "--output_file", "b", "--embedder_name_or_path", "m",
                   "--negative_numbr", "3"])
    assert process.returncode == 2
    assert process.stderr == ("error: unrecognized arguments: --negative_numbr 3; did you mean --negative_number? "
                              "(see `python scripts/hn_mine.py --help`)\n")


def test_dataset_not_available_offline(tmp_path):
    process = run(["-m", "FlagEmbedding.evaluation.custom", "--eval_name", "mine", "--dataset_dir", str(tmp_path),
                   "--embedder_name_or_path", "m"])
    assert process.returncode == 1
    line = error_line(process)
    assert line.startswith("error: ") and str(tmp_path) in line and "corpus.jsonl" in line


def test_bad_data_file_names_file_and_line(tmp_path):
    folder = write_library_layout(str(tmp_path / "data"))
    with open(os.path.join(folder, "corpus.jsonl"), "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    process = run(["-m", "FlagEmbedding.evaluation.custom", "--eval_name", "mine", "--dataset_dir", folder,
                   "--embedder_name_or_path", "m"])
    assert process.returncode == 1
    assert error_line(process) == (f"error: {folder}/corpus.jsonl, line 9: invalid JSON (Expecting property name "
                                   "enclosed in double quotes).")


def test_model_not_found_offline(tmp_path):
    folder = write_library_layout(str(tmp_path / "data"))
    process = run(["-m", "FlagEmbedding.evaluation.custom", "--eval_name", "mine", "--dataset_dir", folder,
                   "--embedder_name_or_path", "no-such-org/no-such-model", "--embedder_model_class",
                   "encoder-only-base", "--output_dir", str(tmp_path / "out")])
    assert process.returncode == 1
    assert error_line(process) == (
        "error: Model 'no-such-org/no-such-model' is not a local folder and could not be downloaded from the "
        "Hugging Face Hub; download it on a connected machine (`hf download no-such-org/no-such-model --local-dir "
        "<folder>`) and pass that folder's path instead.")


def test_missing_optional_package_says_how_to_install_it(tmp_path):
    argv = module_with("sys.modules['air_benchmark'] = None", "FlagEmbedding.evaluation.air_bench",
                       ["--embedder_name_or_path", "m", "--output_dir", str(tmp_path)])
    process = run(argv)
    assert process.returncode in (1, 2)
    assert error_line(process).startswith("error: the optional package 'air_benchmark' is not installed; install it "
                                          "with `pip install --no-deps air-benchmark`.")


def test_a_bug_keeps_its_traceback_and_debug_shows_user_error_tracebacks(tmp_path):
    folder = write_library_layout(str(tmp_path / "data"))
    patch = ("import FlagEmbedding.abc.evaluation.runner as r\n"
             "def boom(self): raise RuntimeError('a genuine bug')\n"
             "r.AbsEvalRunner.prepare = boom")
    argv = module_with(patch, "FlagEmbedding.evaluation.custom",
                       ["--eval_name", "mine", "--dataset_dir", folder, "--embedder_name_or_path", "m"])
    process = run(argv)
    assert process.returncode == 1
    assert "Traceback" in process.stderr and process.stderr.strip().endswith("RuntimeError: a genuine bug")
    empty = tmp_path / "empty"
    empty.mkdir()
    process = run(["-m", "FlagEmbedding.evaluation.custom", "--eval_name", "mine", "--dataset_dir", str(empty),
                   "--embedder_name_or_path", "m"], env={"FLAGEMBEDDING_DEBUG": "1"})
    assert process.returncode == 1
    assert "Traceback" in process.stderr and "DatasetUnavailableError" in process.stderr


def test_finetune_bad_training_file_is_one_line(tmp_path, tiny_bert):
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"query": "q", "pos": "not a list"}) + "\n", encoding="utf-8")
    process = run(["-m", "FlagEmbedding.finetune.embedder.encoder_only.base", "--model_name_or_path", tiny_bert,
                   "--train_data", str(data), "--output_dir", str(tmp_path / "out")])
    assert process.returncode == 1
    assert error_line(process) == f"error: {data}, line 1: 'pos' must be a list of strings, got str."


@pytest.mark.parametrize("script", ["hn_mine", "add_reranker_score", "split_data_by_length"])
def test_every_script_reports_a_missing_input_in_one_line(script, tmp_path):
    argv = {
        "hn_mine": ["--input_file", str(tmp_path / "none.jsonl"), "--output_file", str(tmp_path / "o.jsonl"),
                    "--embedder_name_or_path", "m"],
        "add_reranker_score": ["--input_file", str(tmp_path / "none.jsonl"), "--output_file",
                               str(tmp_path / "o.jsonl"), "--reranker_name_or_path", "m"],
        "split_data_by_length": ["--input_path", str(tmp_path / "none.jsonl"), "--output_dir", str(tmp_path / "o")],
    }[script]
    process = run([f"scripts/{script}.py", *argv])
    assert process.returncode == 1
    line = error_line(process)
    assert line.startswith("error: ") and "none.jsonl" in line
