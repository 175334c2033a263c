"""AIR-Bench runner: search results through the ``air-benchmark`` package (metrics come from its leaderboard)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, List

from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner

if TYPE_CHECKING:
    from air_benchmark import EvalArgs  # the package ships no types: Any to mypy

logger = logging.getLogger(__name__)


class AIRBenchEvalRunner(AbsEvalRunner):
    """Builds the models like every runner and hands them to ``air_benchmark.AIRBench(...).run``.

    Writes ``<output_dir>/<retriever>/<NoReranker|reranker>/<task_type>/<domain>/<language>_<dataset>_<split>.json``;
    there is no embedding cache and no local metric.
    """

    DISTRIBUTED_ENCODING = False
    #: ``air_benchmark.EvalArgs`` (its own argument class, not an :class:`AbsEvalArgs`)
    eval_args: EvalArgs

    def __init__(self, eval_args: Any, model_args: Any):
        model_args.cache_dir = model_args.model_cache_dir
        super().__init__(eval_args, model_args)

    # No loader and no evaluator: the base factories promise both; this runner overrides run() and never uses them.
    def load_data_loader(self) -> None:  # type: ignore[override]
        """AIR-Bench loads its own data."""
        return None

    def load_evaluator(self) -> None:  # type: ignore[override]
        """AIR-Bench evaluates with its own evaluator."""
        return None

    def summary_parts(self) -> List[str]:
        """AIR-Bench scores the search results on its own leaderboard: the closing line says where they are."""
        return [f"wrote the search results under {self.eval_args.output_dir}"]

    def run(self) -> None:
        """Write the search results of every selected AIR-Bench dataset."""
        from air_benchmark import AIRBench

        benchmark = AIRBench(
            benchmark_version=self.eval_args.benchmark_version, task_types=self.eval_args.task_types,
            domains=self.eval_args.domains, languages=self.eval_args.languages, splits=self.eval_args.splits,
            cache_dir=self.eval_args.cache_dir,
        )
        benchmark.run(self.retriever, reranker=self.reranker, output_dir=self.eval_args.output_dir,
                      overwrite=self.eval_args.overwrite)
