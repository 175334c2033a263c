"""Write AIR-Bench search results for an embedder (and optional reranker); AIR-Bench computes the metrics.

Run with ``python -m FlagEmbedding.evaluation.air_bench``; ``--help`` lists every flag.
"""
import logging
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.air_bench import AIRBenchEvalModelArgs, AIRBenchEvalRunner
from FlagEmbedding.utils.cli import run_cli

logger = logging.getLogger(__name__)


def main(argv: Optional[Sequence[str]] = None) -> AIRBenchEvalRunner:
    """Parse the command line, write the AIR-Bench search results, and point to the official metrics."""
    from FlagEmbedding.evaluation.air_bench import AIRBenchEvalArgs  # imports air_benchmark (optional)

    runner = cli_main(AIRBenchEvalRunner, AIRBenchEvalArgs, AIRBenchEvalModelArgs, argv, description=__doc__)
    logger.info("Search results are done. AIR-Bench metrics are computed from them as described in the official "
                "submission docs: https://github.com/AIR-Bench/AIR-Bench/blob/main/docs/submit_to_leaderboard.md")
    return runner


if __name__ == "__main__":
    run_cli(main)
