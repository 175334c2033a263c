"""Evaluate an embedder (and optional reranker) on BRIGHT reasoning-intensive retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.bright``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.bright import BrightEvalArgs, BrightEvalModelArgs, BrightEvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> BrightEvalRunner:
    """Parse the command line and run the BRIGHT evaluation."""
    return cli_main(BrightEvalRunner, BrightEvalArgs, BrightEvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
