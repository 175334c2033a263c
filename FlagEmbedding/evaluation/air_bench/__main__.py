"""Write AIR-Bench search results for an embedder (and optional reranker); AIR-Bench computes the metrics.

Run with ``python -m FlagEmbedding.evaluation.air_bench``; ``--help`` lists every flag.
"""
import logging
from typing import Optional, Sequence

from FlagEmbedding.abc.evaluation.runner import cli_main
from FlagEmbedding.evaluation.air_bench import AIRBenchEvalModelArgs, AIRBenchEvalRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python -m FlagEmbedding.evaluation.air_bench --benchmark_version AIR-Bench_24.05 --task_types qa "
    "--domains wiki web --languages en --splits dev --embedder_name_or_path BAAI/bge-m3 --output_dir "
    "./air_bench/search_results",
    "python -m FlagEmbedding.evaluation.air_bench --benchmark_version AIR-Bench_24.05 --task_types qa "
    "long-doc --domains arxiv --languages en --splits dev test --embedder_name_or_path BAAI/bge-m3 "
    "--reranker_name_or_path BAAI/bge-reranker-v2-m3 --rerank_top_k 100",
)

logger = logging.getLogger(__name__)


def main(argv: Optional[Sequence[str]] = None) -> AIRBenchEvalRunner:
    """Parse the command line, write the AIR-Bench search results, and point to the official metrics."""
    from FlagEmbedding.evaluation.air_bench import AIRBenchEvalArgs  # imports air_benchmark (optional)

    runner = cli_main(AIRBenchEvalRunner, AIRBenchEvalArgs, AIRBenchEvalModelArgs, argv, description=__doc__,
                      examples=EXAMPLES)
    logger.info("Search results are done. AIR-Bench metrics are computed from them as described in the official "
                "submission docs: https://github.com/AIR-Bench/AIR-Bench/blob/main/docs/submit_to_leaderboard.md")
    return runner


if __name__ == "__main__":
    run_cli(main)
