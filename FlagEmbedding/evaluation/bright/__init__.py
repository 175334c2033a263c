"""BRIGHT benchmark (``python -m FlagEmbedding.evaluation.bright``)."""
from FlagEmbedding.evaluation.bright.arguments import BrightEvalArgs, BrightEvalModelArgs
from FlagEmbedding.evaluation.bright.data_loader import BrightLongEvalDataLoader, BrightShortEvalDataLoader
from FlagEmbedding.evaluation.bright.runner import BrightEvalRunner
from FlagEmbedding.evaluation.bright.searcher import BrightEvalDenseRetriever

__all__ = ["BrightEvalArgs", "BrightEvalModelArgs", "BrightEvalRunner", "BrightEvalDenseRetriever",
           "BrightShortEvalDataLoader", "BrightLongEvalDataLoader"]
