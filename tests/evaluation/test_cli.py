"""Argument parsing rules of the ``python -m FlagEmbedding.evaluation.<name>`` entry points."""
from __future__ import annotations

import subprocess
import sys

import pytest

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs
from FlagEmbedding.evaluation.air_bench import AIRBenchEvalModelArgs
from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalModelArgs
from FlagEmbedding.evaluation.bright import BrightEvalArgs
from FlagEmbedding.evaluation.custom import CustomEvalArgs
from FlagEmbedding.evaluation.mteb import MTEBEvalArgs
from FlagEmbedding.utils.cli import ArgumentParser
from tests.helpers import REPO


def parse(argv, eval_class=BEIREvalArgs, model_class=BEIREvalModelArgs):
    return ArgumentParser((eval_class, model_class)).parse_args_into_dataclasses(argv)


def test_defaults_and_types():
    eval_args, model_args = parse(["--eval_name", "x", "--embedder_name_or_path", "m", "--k_values", "5", "50",
                                   "--no_normalize_embeddings", "--use-fp16", "no", "--cutoff_layers", "28", "40",
                                   "--query_instruction_format_for_retrieval", "Instruct: {}\\nQuery: {}",
                                   "--ignore_identical_ids"])
    assert eval_args.splits == "test"  # stays a str when the flag is omitted
    assert eval_args.k_values == [5, 50] and eval_args.ignore_identical_ids is True
    assert eval_args.use_special_instructions is False and eval_args.search_top_k == 1000
    assert model_args.normalize_embeddings is False and model_args.use_fp16 is False
    assert model_args.cutoff_layers == [28, 40]
    assert model_args.query_instruction_format_for_retrieval == "Instruct: {}\nQuery: {}"
    assert BEIREvalModelArgs is AbsEvalModelArgs and CustomEvalArgs is AbsEvalArgs


def test_benchmark_specific_defaults():
    bright, _ = parse(["--eval_name", "b", "--embedder_name_or_path", "m"], BrightEvalArgs)
    assert (bright.task_type, bright.use_special_instructions) == ("short", True)
    mteb, _ = parse(["--eval_name", "m", "--embedder_name_or_path", "m", "--tasks", "A", "B"], MTEBEvalArgs)
    assert mteb.tasks == ["A", "B"] and mteb.languages is None
    assert (mteb.eval_output_method, mteb.eval_output_path) == ("markdown", "./eval_results.md")  # the original's
    from FlagEmbedding.evaluation.air_bench import AIRBenchEvalArgs

    air, model = parse(["--embedder_name_or_path", "m", "--model_cache_dir", "/c", "--splits", "dev"],
                       AIRBenchEvalArgs, AIRBenchEvalModelArgs)
    assert air.splits == ["dev"] and model.model_cache_dir == "/c" and model.pooling_method == "cls"
    assert not hasattr(model, "cache_dir") and not hasattr(model, "domain_for_pseudo_moe")
    with pytest.raises(SystemExit):
        parse(["--embedder_name_or_path", "m", "--embedder_model_class", "decoder-only-pseudo_moe"],
              AIRBenchEvalArgs, AIRBenchEvalModelArgs)


def test_unknown_flag_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(["--eval_name", "x", "--embedder_name_or_path", "m", "--bogus", "1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("error: unrecognized arguments: --bogus 1 (see `")


def test_missing_embedder_is_an_argparse_error():
    process = subprocess.run([sys.executable, "-m", "FlagEmbedding.evaluation.beir", "--eval_name", "x"],
                             cwd=REPO, capture_output=True, text=True)
    assert process.returncode == 2
    assert process.stderr == ("error: the following arguments are required: --embedder_name_or_path/"
                              "--embedder-name-or-path (see `python -m FlagEmbedding.evaluation.beir --help`)\n")


def test_invalid_output_method_is_rejected_by_the_parser():
    with pytest.raises(SystemExit):
        parse(["--eval_name", "x", "--embedder_name_or_path", "m", "--eval_output_method", "csv"])
