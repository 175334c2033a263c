"""Evaluate an embedder (and optional reranker) on MS MARCO passage / document retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.msmarco``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.msmarco import MSMARCOEvalArgs, MSMARCOEvalModelArgs, MSMARCOEvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> MSMARCOEvalRunner:
    """Parse the command line and run the MS MARCO evaluation."""
    return cli_main(MSMARCOEvalRunner, MSMARCOEvalArgs, MSMARCOEvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
