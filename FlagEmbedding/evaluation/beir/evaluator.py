"""BEIR evaluator: result files carry ``sub_dataset_name`` (cqadupstack sub-forums)."""
from FlagEmbedding.abc.evaluation.evaluator import AbsEvaluator


class BEIREvaluator(AbsEvaluator):
    """Writes ``cqadupstack-<sub>-<split>.json`` per sub-forum and reports their mean as ``cqadupstack-<split>``."""

    SUB_DATASET_KEY = True
