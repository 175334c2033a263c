"""MS MARCO runner."""
from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.evaluation.msmarco.data_loader import MSMARCOEvalDataLoader


class MSMARCOEvalRunner(AbsEvalRunner):
    """Evaluates MS MARCO with the shared flow."""

    DATA_LOADER_CLASS = MSMARCOEvalDataLoader
