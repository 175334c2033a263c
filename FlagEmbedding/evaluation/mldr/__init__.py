"""MLDR benchmark (``python -m FlagEmbedding.evaluation.mldr``)."""
from FlagEmbedding.evaluation.mldr.arguments import MLDREvalArgs, MLDREvalModelArgs
from FlagEmbedding.evaluation.mldr.data_loader import MLDREvalDataLoader
from FlagEmbedding.evaluation.mldr.runner import MLDREvalRunner

__all__ = ["MLDREvalArgs", "MLDREvalModelArgs", "MLDREvalRunner", "MLDREvalDataLoader"]
