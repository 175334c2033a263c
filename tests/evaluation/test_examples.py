"""Every documented example command parses, and runs end to end on tiny local data with tiny models."""
from __future__ import annotations

import glob
import importlib
import json
import os
import subprocess
from typing import Dict, List

import pytest

from FlagEmbedding.utils.cli import ArgumentParser
from tests.helpers import REPO
from tests.helpers.benchmarks import QRELS, QUERIES, write_beir_layout, write_library_layout, write_mkqa_layout
from tests.helpers.files import read_json
from tests.evaluation.mteb_tasks import local_retrieval_task

SCRIPTS = sorted(glob.glob(os.path.join(REPO, "examples", "evaluation", "*", "*.sh")))
CAPTURE = 'python() { printf "%s\\0" "$@"; printf "\\036\\0"; }; source "$1"'
RESULT_KEYS = ["eval_name", "model_name", "reranker_name", "split", "dataset_name"]


def script_commands(script: str, env: Dict[str, str]) -> List[List[str]]:
    """Run the script with ``python`` replaced by a function that records its arguments."""
    out = subprocess.run(["bash", "-c", CAPTURE, "_", script], env=env, capture_output=True, check=True).stdout
    commands, current = [], []
    for arg in out.decode().split("\0")[:-1]:
        if arg == "\x1e":
            commands.append(current)
            current = []
        else:
            current.append(arg)
    return commands


def parse(command: List[str]):
    """Parse a recorded ``-m FlagEmbedding.evaluation.<name> ...`` command with that benchmark's parser."""
    assert command[0] == "-m" and command[1].startswith("FlagEmbedding.evaluation.")
    package = importlib.import_module(command[1])
    main_module = importlib.import_module(command[1] + ".__main__")
    prefix = {"beir": "BEIR", "msmarco": "MSMARCO", "miracl": "MIRACL", "mldr": "MLDR", "mkqa": "MKQA",
              "bright": "Bright", "mteb": "MTEB", "air_bench": "AIRBench", "custom": "Custom"}[command[1].split(".")[-1]]
    classes = (getattr(package, f"{prefix}EvalArgs"), getattr(package, f"{prefix}EvalModelArgs"))
    return ArgumentParser(classes).parse_args_into_dataclasses(command[2:]), main_module


def test_every_benchmark_has_a_documented_command():
    names = {os.path.basename(os.path.dirname(s)) for s in SCRIPTS}
    assert names == {"beir", "msmarco", "miracl", "mldr", "mkqa", "bright", "mteb", "air_bench", "custom"}


@pytest.mark.parametrize("model_cache", [None, "/models/cache"])
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: os.path.basename(s))
def test_documented_commands_parse(script, model_cache, tmp_path):
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    if model_cache:
        env["HF_MODEL_CACHE"] = model_cache
    commands = script_commands(script, env)
    assert commands
    for command in commands:
        (eval_args, model_args), _ = parse(command)
        assert model_args.embedder_name_or_path.startswith("BAAI/")
        assert all(d.startswith("cuda:") for d in model_args.devices)
        hub_cache = str(tmp_path / ".cache" / "huggingface" / "hub")  # $HF_HUB_CACHE defaults under $HOME
        model_dir = getattr(model_args, "cache_dir", None) or model_args.model_cache_dir
        assert model_dir == (model_cache or hub_cache)
        if hasattr(eval_args, "k_values"):
            assert all(isinstance(k, int) for k in eval_args.k_values)
        if "bright" in script:
            assert model_args.query_instruction_format_for_retrieval == "Instruct: {}\nQuery: {}"


# ---------------------------------------------------------------------------------------------- end to end
def localize(command: List[str], root: str, models: Dict[str, str]) -> List[str]:
    """Relative paths under ``root``, documented models -> tiny stand-ins, devices -> cpu."""
    out, skip = [], False
    for i, arg in enumerate(command):
        if skip:
            if arg.startswith("--"):
                skip = False
            else:
                continue
        if arg in ("--devices",):
            out += [arg, "cpu"]
            skip = True
            continue
        if arg.startswith("./"):
            arg = os.path.join(root, arg[2:])
        out.append(models.get(arg, arg))
    return out


def build_data(benchmark: str, dataset_dir: str, splits: List[str]) -> None:
    """Tiny data in the benchmark's layout under ``dataset_dir``."""
    if benchmark == "beir":
        write_library_layout(os.path.join(dataset_dir, "fiqa"))
        write_beir_layout(os.path.join(dataset_dir, "arguana"))
        for sub in ("android english gaming gis mathematica physics programmers stats tex unix webmasters "
                    "wordpress").split():
            write_library_layout(os.path.join(dataset_dir, "cqadupstack", sub))
    elif benchmark == "mkqa":
        write_mkqa_layout(dataset_dir, ["en", "zh_cn"])
    elif benchmark == "custom":
        write_library_layout(dataset_dir)
    else:
        names = {"msmarco": ["passage"], "miracl": "bn hi sw te th yo".split(), "mldr": ["hi"],
                 "bright": ["pony", "theoremqa_theorems"]}[benchmark]
        for name in names:
            write_library_layout(os.path.join(dataset_dir, name), splits=splits)


def check_result_tree(output_dir: str, expected_files: List[str], reranked: bool, excluded: bool = False) -> Dict:
    """Result files, their metadata order and the EVAL files exist; returns the NoReranker eval results."""
    (model,) = os.listdir(output_dir)
    folders = ["NoReranker"] + (["bge-reranker-v2-m3"] if reranked else [])
    assert sorted(d for d in os.listdir(os.path.join(output_dir, model)) if not d.startswith(".")) == sorted(folders)
    for folder in folders:
        base = os.path.join(output_dir, model, folder)
        assert sorted(f for f in os.listdir(base) if f.endswith(".json")) == sorted(expected_files)
        for name in expected_files:
            with open(os.path.join(base, name), encoding="utf-8") as f:
                data = json.load(f)
            assert list(data)[:5] == RESULT_KEYS and list(data)[-1] == "search_results"
            assert data["model_name"] == model and data["reranker_name"] == folder
            assert set(data["search_results"]) == set(QUERIES)
            # every document comes back (the tail is kept after reranking); BRIGHT drops docs judged != 1
            expected = {q: 8 - (sum(r != 1 for r in QRELS[q].values()) if excluded else 0) for q in QUERIES}
            assert {q: len(hits) for q, hits in data["search_results"].items()} == expected
        assert os.path.exists(os.path.join(base, "EVAL", "eval_results.json"))
    return read_json(os.path.join(output_dir, model, "NoReranker", "EVAL", "eval_results.json"))


def run_command(command: List[str], tmp_path, doc_models) -> Dict:
    root = str(tmp_path)
    local = localize(command, root, doc_models)
    (eval_args, _), main_module = parse(local)
    benchmark = command[1].split(".")[-1]
    if benchmark not in ("mteb", "air_bench"):
        splits = [eval_args.splits] if isinstance(eval_args.splits, str) else eval_args.splits
        build_data(benchmark, eval_args.dataset_dir, splits)
    main_module.main(local[2:])
    return vars(eval_args)


def commands_of(name: str, tmp_path) -> List[List[str]]:
    (script,) = [s for s in SCRIPTS if os.path.basename(os.path.dirname(s)) == name]
    return script_commands(script, {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")})


LAYOUT_CASES = {
    # benchmark: (expected result files, EVAL keys)
    "beir": ([f"cqadupstack-{s}-test.json" for s in "android english gaming gis mathematica physics programmers "
              "stats tex unix webmasters wordpress".split()] + ["fiqa-test.json", "arguana-test.json"],
             ["arguana-test", "cqadupstack-test", "fiqa-test"]),
    "msmarco": (["passage-dev.json", "passage-dl19.json", "passage-dl20.json"],
                ["passage-dev", "passage-dl19", "passage-dl20"]),
    "miracl": ([f"{lang}-dev.json" for lang in "bn hi sw te th yo".split()], [f"{lang}-dev" for lang in "bn hi sw te th yo".split()]),
    "mldr": (["hi-test.json"], ["hi-test"]),
    "mkqa": (["en-test.json", "zh_cn-test.json"], ["en-test", "zh_cn-test"]),
    "custom": (["test.json"], ["test"]),
}


@pytest.mark.parametrize("benchmark", sorted(LAYOUT_CASES))
def test_documented_command_runs_end_to_end(benchmark, tmp_path, doc_models):
    (command,) = commands_of(benchmark, tmp_path)
    args = run_command(command, tmp_path, doc_models)
    files, keys = LAYOUT_CASES[benchmark]
    results = check_result_tree(args["output_dir"], files, reranked=True)
    assert sorted(results) == sorted(keys)
    metric = "qa_recall_at_20" if benchmark == "mkqa" else "ndcg_at_10"
    assert all(metric in values for values in results.values())
    with open(args["eval_output_path"], encoding="utf-8") as f:
        summary = f.read()
    for name in args["eval_metrics"]:
        assert f"## {name}\n\n| Model | Reranker | average | {' | '.join(sorted(keys))} |\n" in summary
    assert "| bge-reranker-v2-m3 | " in summary or "| bge-m3 | bge-reranker-v2-m3 | " in summary
    # rerun without --overwrite reuses every file (and still writes the summary)
    os.remove(args["eval_output_path"])
    local = localize(command, str(tmp_path), doc_models)
    stamps = {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(args["output_dir"], "*", "*", "*.json"))}
    parse(local)[1].main(local[2:])
    assert os.path.exists(args["eval_output_path"])
    if not args["overwrite"]:
        assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps


def test_documented_bright_commands_run_end_to_end(tmp_path, doc_models):
    commands = commands_of("bright", tmp_path)
    assert len(commands) == 2
    for command, split in zip(commands, ["examples", "gpt4_reason"]):
        args = run_command(command, tmp_path, doc_models)
        assert args["output_dir"].endswith(f"search_results/{split}")
        results = check_result_tree(args["output_dir"], [f"pony-{split}.json", f"theoremqa_theorems-{split}.json"],
                                    reranked=False, excluded=True)
        assert sorted(results) == [f"pony-{split}", f"theoremqa_theorems-{split}"]
        assert os.path.exists(args["eval_output_path"]) and args["eval_output_path"].endswith(f"eval_results_{split}.md")


def test_documented_mteb_command_runs_with_a_local_task(tmp_path, doc_models, monkeypatch):
    from FlagEmbedding.evaluation.mteb.runner import MTEBEvalRunner
    from tests.helpers.benchmarks import CORPUS

    (command,) = commands_of("mteb", tmp_path)
    seen = {}

    def local_tasks(self):
        seen.update(languages=self.eval_args.languages, tasks=self.eval_args.tasks)
        return [local_retrieval_task("NFCorpus", CORPUS, QUERIES, QRELS)]

    monkeypatch.setattr(MTEBEvalRunner, "load_tasks", local_tasks)
    args = run_command(command, tmp_path, doc_models)
    assert seen == {"languages": ["eng"], "tasks": ["NFCorpus", "BiorxivClusteringS2S", "SciDocsRR"]}
    result = os.path.join(args["output_dir"], "bge-large-en-v1.5", "no_model_name_available", "no_revision_available",
                          "NFCorpus.json")
    scores = read_json(result)["scores"]["test"][0]
    summary = read_json(args["eval_output_path"])
    assert summary == {"Retrieval": {"NFCorpus": round(scores["main_score"] * 100, 2),
                                     "Avg": round(scores["main_score"] * 100, 2)},
                       "Avg": round(scores["main_score"] * 100, 2)}


def test_documented_air_bench_command_runs_with_a_fake_benchmark_data(tmp_path, doc_models, monkeypatch):
    """air-benchmark downloads its data from the Hub; only its data loader is replaced here."""
    from air_benchmark.evaluation_utils.data_loader import DataLoader

    from tests.helpers.benchmarks import CORPUS

    monkeypatch.setattr(DataLoader, "load_corpus", lambda self, task_type, domain, language, dataset_name:
                        {d: {"text": doc["text"]} for d, doc in CORPUS.items()})
    monkeypatch.setattr(DataLoader, "load_queries", lambda self, task_type, domain, language, dataset_name, split:
                        dict(QUERIES))
    (command,) = commands_of("air_bench", tmp_path)
    args = run_command(command, tmp_path, doc_models)
    root = os.path.join(args["output_dir"], "bge-m3")
    assert sorted(os.listdir(root)) == ["NoReranker", "bge-reranker-v2-m3"]
    files = sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "*", "*", "*", "*.json")))
    assert "NoReranker/qa/arxiv/en_default_dev.json" in files
    assert "bge-reranker-v2-m3/long-doc/arxiv/en_gpt3_test.json" in files
    data = read_json(os.path.join(root, "NoReranker", "qa", "arxiv", "en_default_dev.json"))
    assert list(data) == ["model_name", "reranker_name", "benchmark_version", "task_type", "domain", "language",
                          "dataset_name", "split", "search_results"]
    assert data["benchmark_version"] == "AIR-Bench_24.05" and set(data["search_results"]) == set(QUERIES)
