"""MTEB benchmark through mteb 2.x (``python -m FlagEmbedding.evaluation.mteb``)."""
from FlagEmbedding.evaluation.mteb.arguments import MTEBEvalArgs, MTEBEvalModelArgs
from FlagEmbedding.evaluation.mteb.runner import MTEBEvalRunner

__all__ = ["MTEBEvalArgs", "MTEBEvalModelArgs", "MTEBEvalRunner"]
