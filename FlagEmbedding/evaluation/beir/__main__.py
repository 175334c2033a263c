"""Evaluate an embedder (and optional reranker) on BEIR datasets and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.beir``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalModelArgs, BEIREvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.beir --dataset_dir ./beir/data --dataset_names scifact --splits "
    "test --embedder_name_or_path BAAI/bge-base-en-v1.5 --output_dir ./beir/search_results "
    "--eval_output_path ./beir/eval_results.md",
    "python -m FlagEmbedding.evaluation.beir --dataset_dir ./beir/data --dataset_names scifact nfcorpus "
    "--embedder_name_or_path BAAI/bge-m3 --search_method all --output_dir ./beir/search_results",
    "python -m FlagEmbedding.evaluation.beir --dataset_dir ./beir/data --dataset_names scifact "
    "--embedder_name_or_path BAAI/bge-base-en-v1.5 --reranker_name_or_path BAAI/bge-reranker-v2-m3 "
    "--rerank_top_k 100 --devices cuda:0",
)


def main(argv: Optional[Sequence[str]] = None) -> BEIREvalRunner:
    """Parse the command line and run the BEIR evaluation."""
    return cli_main(BEIREvalRunner, BEIREvalArgs, BEIREvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
