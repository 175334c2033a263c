"""Evaluate an embedder (and optional reranker) on MLDR long-document retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.mldr``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mldr import MLDREvalArgs, MLDREvalModelArgs, MLDREvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> MLDREvalRunner:
    """Parse the command line and run the MLDR evaluation."""
    return cli_main(MLDREvalRunner, MLDREvalArgs, MLDREvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
