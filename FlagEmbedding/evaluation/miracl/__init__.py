"""MIRACL benchmark (``python -m FlagEmbedding.evaluation.miracl``)."""
from FlagEmbedding.evaluation.miracl.arguments import MIRACLEvalArgs, MIRACLEvalModelArgs
from FlagEmbedding.evaluation.miracl.data_loader import MIRACLEvalDataLoader
from FlagEmbedding.evaluation.miracl.runner import MIRACLEvalRunner

__all__ = ["MIRACLEvalArgs", "MIRACLEvalModelArgs", "MIRACLEvalRunner", "MIRACLEvalDataLoader"]
