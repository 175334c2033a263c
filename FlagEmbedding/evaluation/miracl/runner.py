"""MIRACL runner."""
from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.evaluation.miracl.data_loader import MIRACLEvalDataLoader


class MIRACLEvalRunner(AbsEvalRunner):
    """Evaluates MIRACL with the shared flow."""

    DATA_LOADER_CLASS = MIRACLEvalDataLoader
