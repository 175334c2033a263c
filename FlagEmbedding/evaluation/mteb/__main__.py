"""Evaluate an embedder on MTEB tasks through the mteb package and write the results.

Run with ``python -m FlagEmbedding.evaluation.mteb``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mteb import MTEBEvalArgs, MTEBEvalModelArgs, MTEBEvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> MTEBEvalRunner:
    """Parse the command line and run the MTEB evaluation."""
    return cli_main(MTEBEvalRunner, MTEBEvalArgs, MTEBEvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
