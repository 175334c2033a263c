"""Evaluate an embedder (and optional reranker) on your own corpus / queries / qrels files and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.custom``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.custom import CustomEvalArgs, CustomEvalModelArgs, CustomEvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.custom --eval_name my_data --dataset_dir ./my_data --splits test "
    "--embedder_name_or_path BAAI/bge-base-en-v1.5 --output_dir ./my_data/search_results "
    "--eval_output_path ./my_data/eval_results.md",
    "python -m FlagEmbedding.evaluation.custom --eval_name my_data --dataset_dir ./my_data "
    "--embedder_name_or_path BAAI/bge-m3 --search_method all --eval_metrics ndcg_at_10 recall_at_100",
    "python -m FlagEmbedding.evaluation.custom --eval_name my_data --dataset_dir ./my_data "
    "--embedder_name_or_path BAAI/bge-m3 --reranker_name_or_path BAAI/bge-reranker-v2-m3 --rerank_top_k "
    "100 --devices cuda:0",
)


def main(argv: Optional[Sequence[str]] = None) -> CustomEvalRunner:
    """Parse the command line and run the custom-data evaluation."""
    return cli_main(CustomEvalRunner, CustomEvalArgs, CustomEvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
