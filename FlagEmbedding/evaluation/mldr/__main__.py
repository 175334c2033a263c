"""Evaluate an embedder (and optional reranker) on MLDR long-document retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.mldr``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mldr import MLDREvalArgs, MLDREvalModelArgs, MLDREvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.mldr --dataset_dir ./mldr/data --dataset_names en zh --splits "
    "test --embedder_name_or_path BAAI/bge-m3 --embedder_passage_max_length 8192 --output_dir "
    "./mldr/search_results",
    "python -m FlagEmbedding.evaluation.mldr --dataset_dir ./mldr/data --dataset_names en --splits test "
    "--embedder_name_or_path BAAI/bge-m3 --search_method all --embedder_passage_max_length 8192",
    "python -m FlagEmbedding.evaluation.mldr --dataset_dir ./mldr/data --dataset_names en "
    "--embedder_name_or_path BAAI/bge-m3 --reranker_name_or_path BAAI/bge-reranker-v2-m3 --rerank_top_k "
    "100 --reranker_max_length 8192",
)


def main(argv: Optional[Sequence[str]] = None) -> MLDREvalRunner:
    """Parse the command line and run the MLDR evaluation."""
    return cli_main(MLDREvalRunner, MLDREvalArgs, MLDREvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
