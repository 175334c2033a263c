"""The README's offline demo: embed, search and evaluate the shipped demo corpus."""
import importlib.util
import json
import os

from tests.helpers import REPO


def test_demo_end_to_end(minilm, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("demo", os.path.join(REPO, "examples", "demo.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    summary = demo.main(["--output_dir", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "'capital city of France'" in printed and "-> Paris (" in printed
    # every demo query finds its relevant passage first with all-MiniLM-L6-v2
    assert "## ndcg_at_10" in summary and "| all-MiniLM-L6-v2 | NoReranker | **100.000** | **100.000** | " in summary
    results = json.load(open(tmp_path / "search_results" / "all-MiniLM-L6-v2" / "NoReranker" / "EVAL" / "eval_results.json"))
    assert results["test"]["ndcg_at_10"] == 1.0 and results["test"]["recall_at_3"] == 1.0
    assert os.path.isdir(tmp_path / "corpus_embd")
