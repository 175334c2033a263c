"""MKQA runner."""
from FlagEmbedding.abc.evaluation.runner import AbsEvalRunner
from FlagEmbedding.evaluation.mkqa.data_loader import MKQAEvalDataLoader
from FlagEmbedding.evaluation.mkqa.evaluator import MKQAEvaluator


class MKQAEvalRunner(AbsEvalRunner):
    """MKQA: shared corpus, answer-recall metrics."""

    DATA_LOADER_CLASS = MKQAEvalDataLoader
    EVALUATOR_CLASS = MKQAEvaluator
