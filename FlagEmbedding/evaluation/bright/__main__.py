"""Evaluate an embedder (and optional reranker) on BRIGHT reasoning-intensive retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.bright``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.bright import BrightEvalArgs, BrightEvalModelArgs, BrightEvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.bright --task_type short --dataset_dir ./bright_short/data "
    "--dataset_names biology economics --splits examples --embedder_name_or_path BAAI/bge-base-en-v1.5 "
    "--output_dir ./bright_short/search_results",
    "python -m FlagEmbedding.evaluation.bright --task_type long --dataset_dir ./bright_long/data "
    "--dataset_names pony --splits examples --embedder_name_or_path BAAI/bge-m3 "
    "--embedder_passage_max_length 8192",
    "python -m FlagEmbedding.evaluation.bright --task_type short --dataset_dir ./bright_short/data "
    "--dataset_names biology --embedder_name_or_path BAAI/bge-base-en-v1.5 --reranker_name_or_path "
    "BAAI/bge-reranker-v2-m3 --rerank_top_k 100",
)


def main(argv: Optional[Sequence[str]] = None) -> BrightEvalRunner:
    """Parse the command line and run the BRIGHT evaluation."""
    return cli_main(BrightEvalRunner, BrightEvalArgs, BrightEvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
