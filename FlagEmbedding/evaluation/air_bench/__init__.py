"""AIR-Bench (``python -m FlagEmbedding.evaluation.air_bench``); needs ``pip install air-benchmark``.

``air_benchmark`` is imported only when ``AIRBenchEvalArgs`` is accessed or the benchmark runs.
"""
from typing import Any

from FlagEmbedding.evaluation.air_bench.arguments import AIRBenchEvalModelArgs
from FlagEmbedding.evaluation.air_bench.runner import AIRBenchEvalRunner

__all__ = ["AIRBenchEvalArgs", "AIRBenchEvalModelArgs", "AIRBenchEvalRunner"]


def __getattr__(name: str) -> Any:
    if name == "AIRBenchEvalArgs":
        from FlagEmbedding.evaluation.air_bench.arguments import AIRBenchEvalArgs

        return AIRBenchEvalArgs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
