"""Run a module as ``__main__`` with per-stage timers patched around named functions.

``python _stage_timer.py OUT.json MODULE [ARGS...]`` runs ``python -m MODULE ARGS...`` in this process; each
stage of :data:`STAGES` adds the wall time of the outermost call of any of its functions (functions missing
in the installed implementation are skipped), and ``OUT.json`` receives ``{stage: seconds}`` plus ``total``
(from interpreter start to exit) and ``startup`` (imports before the module runs). The same stages are
patched in this library and in the original FlagEmbedding 1.4.2, so their tables compare.
"""
from __future__ import annotations

import atexit
import functools
import importlib
import json
import runpy
import sys
import time
from typing import Any, Callable, Dict, List

START = time.perf_counter()

#: stage -> ``module:attribute.path`` of the functions it covers (inclusive time of the outermost call)
STAGES: Dict[str, List[str]] = {
    "load data": [f"{module}:{cls}.{method}"
                  for module, cls in (("FlagEmbedding.abc.evaluation.data_loader", "AbsEvalDataLoader"),
                                      ("FlagEmbedding.evaluation.beir.data_loader", "BEIREvalDataLoader"))
                  for method in ("load_corpus", "load_queries", "load_qrels", "validate")],
    "load model": ["FlagEmbedding.abc.evaluation.runner:AbsEvalRunner.get_models"],
    "encode corpus": ["FlagEmbedding.abc.inference.AbsEmbedder:AbsEmbedder.encode_corpus",
                      "FlagEmbedding.abc.inference.embedder:AbsEmbedder.encode_corpus",
                      "FlagEmbedding.inference.embedder.encoder_only.base:BaseEmbedder.encode_corpus"],
    "encode queries": ["FlagEmbedding.abc.inference.AbsEmbedder:AbsEmbedder.encode_queries",
                       "FlagEmbedding.abc.inference.embedder:AbsEmbedder.encode_queries",
                       "FlagEmbedding.inference.embedder.encoder_only.base:BaseEmbedder.encode_queries"],
    "  tokenize": ["transformers.tokenization_utils_base:PreTrainedTokenizerBase.__call__"],
    "  pad": ["transformers.tokenization_utils_base:PreTrainedTokenizerBase.pad"],
    "  forward": ["torch.nn.modules.module:Module.__call__"],
    "cache write": ["numpy:save", "FlagEmbedding.retrieval.embedding_cache:file_checksum"],
    "search": ["FlagEmbedding.abc.evaluation.searcher:search"],
    "result files": ["FlagEmbedding.abc.evaluation.evaluator:AbsEvaluator.save_search_results",
                     "FlagEmbedding.evaluation.beir.evaluator:BEIREvaluator.save_search_results"],
    "metrics": ["FlagEmbedding.abc.evaluation.evaluator:AbsEvaluator.evaluate_results",
                "FlagEmbedding.evaluation.beir.evaluator:BEIREvaluator.evaluate_results"],
    "summary": ["FlagEmbedding.abc.evaluation.runner:AbsEvalRunner.evaluate_metrics"],
}


totals: Dict[str, float] = {stage: 0.0 for stage in STAGES}
_depth: Dict[str, int] = {stage: 0 for stage in STAGES}


def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` adding its outermost calls' wall time to ``totals[stage]``."""
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _depth[stage] += 1
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _depth[stage] -= 1
            if _depth[stage] == 0:
                totals[stage] += time.perf_counter() - start

    return wrapper


def patch(stage: str, target: str) -> bool:
    """Wrap ``module:attr.path`` if it exists; return whether it did."""
    module_name, path = target.split(":")
    try:
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
    except (ImportError, AttributeError, KeyError):
        return False
    if isinstance(original, staticmethod):
        setattr(owner, name, staticmethod(timed(stage, original.__func__)))
    else:
        setattr(owner, name, timed(stage, original))
    return True


def main() -> None:
    out_path, module, *argv = sys.argv[1:]
    for stage, targets in STAGES.items():
        for target in targets:
            patch(stage, target)

    def report() -> None:
        result = {"total": time.perf_counter() - START, "startup": startup, **totals}
        with open(out_path, "w", encoding="utf-8") as f:
            json.dump(result, f)

    startup = time.perf_counter() - START
    atexit.register(report)
    sys.argv = [module, *argv]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
