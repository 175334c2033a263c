"""Evaluate an embedder (and optional reranker) on MS MARCO passage / document retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.msmarco``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.msmarco import MSMARCOEvalArgs, MSMARCOEvalModelArgs, MSMARCOEvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.msmarco --dataset_dir ./msmarco/data --dataset_names passage "
    "--splits dev --embedder_name_or_path BAAI/bge-base-en-v1.5 --output_dir ./msmarco/search_results",
    "python -m FlagEmbedding.evaluation.msmarco --dataset_dir ./msmarco/data --dataset_names passage "
    "--splits dl19 dl20 --embedder_name_or_path BAAI/bge-base-en-v1.5 --reranker_name_or_path "
    "BAAI/bge-reranker-v2-m3 --rerank_top_k 100",
    "python -m FlagEmbedding.evaluation.msmarco --dataset_dir ./msmarco/data --dataset_names document "
    "--splits dev --embedder_name_or_path BAAI/bge-m3 --embedder_passage_max_length 8192 --output_dir "
    "./msmarco/search_results",
)


def main(argv: Optional[Sequence[str]] = None) -> MSMARCOEvalRunner:
    """Parse the command line and run the MS MARCO evaluation."""
    return cli_main(MSMARCOEvalRunner, MSMARCOEvalArgs, MSMARCOEvalModelArgs, argv, description=__doc__,
                    examples=EXAMPLES)


if __name__ == "__main__":
    run_cli(main)
