"""Moved: these names now live in naming, metrics, search and summary of this package (kept for old imports)."""
from FlagEmbedding.retrieval.metrics import Qrels, Run, evaluate_metrics, evaluate_mrr, evaluate_recall_cap
from FlagEmbedding.abc.evaluation.naming import display_name, passage_text
from FlagEmbedding.retrieval.exact_search import EmbeddingIndex, index, search
from FlagEmbedding.abc.evaluation.summary import summary_markdown, write_summary

__all__ = [
    "Qrels", "Run", "evaluate_metrics", "evaluate_mrr", "evaluate_recall_cap", "display_name", "passage_text",
    "EmbeddingIndex", "index", "search", "summary_markdown", "write_summary",
]
