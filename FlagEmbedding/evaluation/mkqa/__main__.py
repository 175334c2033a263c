"""Evaluate an embedder (and optional reranker) on MKQA cross-lingual QA retrieval and write a metrics summary.

Run with ``python -m FlagEmbedding.evaluation.mkqa``; ``--help`` lists every flag.
"""
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.mkqa import MKQAEvalArgs, MKQAEvalModelArgs, MKQAEvalRunner
from FlagEmbedding.utils.cli import run_cli


def main(argv: Optional[Sequence[str]] = None) -> MKQAEvalRunner:
    """Parse the command line and run the MKQA evaluation."""
    return cli_main(MKQAEvalRunner, MKQAEvalArgs, MKQAEvalModelArgs, argv, description=__doc__)


if __name__ == "__main__":
    run_cli(main)
