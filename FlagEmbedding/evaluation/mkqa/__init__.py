"""MKQA benchmark (``python -m FlagEmbedding.evaluation.mkqa``)."""
from FlagEmbedding.evaluation.mkqa.arguments import MKQAEvalArgs, MKQAEvalModelArgs
from FlagEmbedding.evaluation.mkqa.data_loader import MKQAEvalDataLoader
from FlagEmbedding.evaluation.mkqa.evaluator import MKQAEvaluator
from FlagEmbedding.evaluation.mkqa.runner import MKQAEvalRunner

__all__ = ["MKQAEvalArgs", "MKQAEvalModelArgs", "MKQAEvalRunner", "MKQAEvalDataLoader", "MKQAEvaluator"]
