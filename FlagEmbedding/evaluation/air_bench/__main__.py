"""``python -m FlagEmbedding.evaluation.air_bench``."""
import logging
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.air_bench import AIRBenchEvalArgs, AIRBenchEvalModelArgs, AIRBenchEvalRunner

logger = logging.getLogger(__name__)


def main(argv: Optional[Sequence[str]] = None) -> AIRBenchEvalRunner:
    """Parse the command line, write the AIR-Bench search results, and point to the official metrics."""
    runner = cli_main(AIRBenchEvalRunner, AIRBenchEvalArgs, AIRBenchEvalModelArgs, argv)
    logger.info("Search results are done. AIR-Bench metrics are computed from them as described in the official "
                "submission docs: https://github.com/AIR-Bench/AIR-Bench/blob/main/docs/submit_to_leaderboard.md")
    return runner


if __name__ == "__main__":
    main()
