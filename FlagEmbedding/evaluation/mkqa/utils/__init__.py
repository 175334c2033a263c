"""MKQA helpers: the corpus normaliser and the answer-recall metric."""
from FlagEmbedding.evaluation.mkqa.utils.compute_metrics import evaluate_qa_recall, has_answer, tokenize
from FlagEmbedding.evaluation.mkqa.utils.normalize_text import normalize

__all__ = ["evaluate_qa_recall", "has_answer", "tokenize", "normalize"]
