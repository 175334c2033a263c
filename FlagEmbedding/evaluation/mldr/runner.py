"""MLDR runner."""
from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.evaluation.mldr.data_loader import MLDREvalDataLoader


class MLDREvalRunner(AbsEvalRunner):
    """Evaluates MLDR with the shared flow."""

    DATA_LOADER_CLASS = MLDREvalDataLoader
