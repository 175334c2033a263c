"""custom-data benchmark (``python -m FlagEmbedding.evaluation.custom``)."""
from FlagEmbedding.evaluation.custom.arguments import CustomEvalArgs, CustomEvalModelArgs
from FlagEmbedding.evaluation.custom.data_loader import CustomEvalDataLoader
from FlagEmbedding.evaluation.custom.runner import CustomEvalRunner

__all__ = ["CustomEvalArgs", "CustomEvalModelArgs", "CustomEvalRunner", "CustomEvalDataLoader"]
