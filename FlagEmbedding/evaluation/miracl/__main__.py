"""Evaluate an embedder (and optional reranker) on MIRACL multilingual retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.miracl``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.miracl import MIRACLEvalArgs, MIRACLEvalModelArgs, MIRACLEvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.miracl --dataset_dir ./miracl/data --dataset_names ar fi sw "
    "--splits dev --embedder_name_or_path BAAI/bge-m3 --output_dir ./miracl/search_results",
    "python -m FlagEmbedding.evaluation.miracl --dataset_dir ./miracl/data --dataset_names sw --splits "
    "dev --embedder_name_or_path BAAI/bge-m3 --search_method all --output_dir ./miracl/search_results",
    "python -m FlagEmbedding.evaluation.miracl --dataset_dir ./miracl/data --dataset_names ar --splits "
    "dev --embedder_name_or_path BAAI/bge-m3 --reranker_name_or_path BAAI/bge-reranker-v2-m3 "
    "--rerank_top_k 100 --devices cuda:0",
)


def main(argv: Optional[Sequence[str]] = None) -> MIRACLEvalRunner:
    """Parse the command line and run the MIRACL evaluation."""
    return cli_main(MIRACLEvalRunner, MIRACLEvalArgs, MIRACLEvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
