"""Abstract evaluation framework: arguments, data loading, searchers, evaluator and runner."""
from FlagEmbedding.utils.lazy import lazy_getattr

_NAMES = {
    "AbsEvalArgs": "FlagEmbedding.abc.evaluation.arguments",
    "AbsEvalModelArgs": "FlagEmbedding.abc.evaluation.arguments",
    "AbsEvaluator": "FlagEmbedding.abc.evaluation.evaluator",
    "AbsEvalDataLoader": "FlagEmbedding.abc.evaluation.data_loader",
    "EvalRetriever": "FlagEmbedding.abc.evaluation.searcher",
    "EvalDenseRetriever": "FlagEmbedding.abc.evaluation.searcher",
    "EvalReranker": "FlagEmbedding.abc.evaluation.searcher",
    "AbsEvalRunner": "FlagEmbedding.abc.evaluation.runner",
}
__all__ = list(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
