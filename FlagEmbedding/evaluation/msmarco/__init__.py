"""MS MARCO benchmark (``python -m FlagEmbedding.evaluation.msmarco``)."""
from FlagEmbedding.evaluation.msmarco.arguments import MSMARCOEvalArgs, MSMARCOEvalModelArgs
from FlagEmbedding.evaluation.msmarco.data_loader import MSMARCOEvalDataLoader
from FlagEmbedding.evaluation.msmarco.runner import MSMARCOEvalRunner

__all__ = ["MSMARCOEvalArgs", "MSMARCOEvalModelArgs", "MSMARCOEvalRunner", "MSMARCOEvalDataLoader"]
