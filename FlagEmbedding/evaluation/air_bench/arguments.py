"""AIR-Bench arguments: ``AIRBenchEvalArgs`` is ``air_benchmark.EvalArgs`` (imported on first access)."""
from __future__ import annotations

import dataclasses
import typing
from typing import Any, List, Tuple

from FlagEmbedding.abc.evaluation.arguments import EMBEDDER_MODEL_CLASSES, AbsEvalModelArgs


def _model_fields() -> List[Tuple[str, Any, Any]]:
    """:class:`AbsEvalModelArgs` fields with AIR-Bench's differences: ``pooling_method`` defaults to ``cls``,
    ``model_cache_dir`` replaces ``cache_dir``, and there is no pseudo-MoE class or domain."""
    hints = typing.get_type_hints(AbsEvalModelArgs)
    out = []
    for f in dataclasses.fields(AbsEvalModelArgs):
        if f.name == "domain_for_pseudo_moe":
            continue
        metadata = dict(f.metadata)
        kwargs: dict = {"metadata": metadata}
        if f.default_factory is not dataclasses.MISSING:
            kwargs["default_factory"] = f.default_factory
        elif f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        if f.name == "pooling_method":
            kwargs["default"] = "cls"
        if f.name == "embedder_model_class":
            metadata["choices"] = [c for c in EMBEDDER_MODEL_CLASSES if c != "decoder-only-pseudo_moe"]
        name = "model_cache_dir" if f.name == "cache_dir" else f.name
        out.append((name, hints[f.name], dataclasses.field(**kwargs)))
    return out


AIRBenchEvalModelArgs = dataclasses.make_dataclass(
    "AIRBenchEvalModelArgs", _model_fields(),
    namespace={"__post_init__": AbsEvalModelArgs.__post_init__, "__module__": __name__,
               "__doc__": "Model arguments of AIR-Bench (see :class:`AbsEvalModelArgs`; ``model_cache_dir`` "
                          "replaces ``cache_dir`` and ``pooling_method`` defaults to ``cls``)."},
)


def __getattr__(name: str) -> Any:
    if name == "AIRBenchEvalArgs":
        from air_benchmark import EvalArgs

        return EvalArgs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
