"""Evaluate an embedder (and optional reranker) on BEIR datasets and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.beir``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.beir import BEIREvalArgs, BEIREvalModelArgs, BEIREvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> BEIREvalRunner:
    """Parse the command line and run the BEIR evaluation."""
    return cli_main(BEIREvalRunner, BEIREvalArgs, BEIREvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
