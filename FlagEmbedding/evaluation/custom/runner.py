"""custom-data runner."""
from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.evaluation.custom.data_loader import CustomEvalDataLoader


class CustomEvalRunner(AbsEvalRunner):
    """Evaluates custom-data with the shared flow."""

    DATA_LOADER_CLASS = CustomEvalDataLoader
