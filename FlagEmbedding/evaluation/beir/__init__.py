"""BEIR benchmark (``python -m FlagEmbedding.evaluation.beir``)."""
from FlagEmbedding.evaluation.beir.arguments import BEIREvalArgs, BEIREvalModelArgs
from FlagEmbedding.evaluation.beir.data_loader import BEIREvalDataLoader
from FlagEmbedding.evaluation.beir.runner import BEIREvalRunner

__all__ = ["BEIREvalArgs", "BEIREvalModelArgs", "BEIREvalRunner", "BEIREvalDataLoader"]
