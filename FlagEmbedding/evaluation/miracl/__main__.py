"""Evaluate an embedder (and optional reranker) on MIRACL multilingual retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.miracl``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.miracl import MIRACLEvalArgs, MIRACLEvalModelArgs, MIRACLEvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> MIRACLEvalRunner:
    """Parse the command line and run the MIRACL evaluation."""
    return cli_main(MIRACLEvalRunner, MIRACLEvalArgs, MIRACLEvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
