"""Evaluate an embedder (and optional reranker) on your own corpus / queries / qrels files and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.custom``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.custom import CustomEvalArgs, CustomEvalModelArgs, CustomEvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> CustomEvalRunner:
    """Parse the command line and run the custom-data evaluation."""
    return cli_main(CustomEvalRunner, CustomEvalArgs, CustomEvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
