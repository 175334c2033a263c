"""BRIGHT retriever: documents judged non-relevant (``excluded_ids``) are never returned."""
from __future__ import annotations

import logging
from typing import Any, Dict, Mapping, Set

from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever

logger = logging.getLogger(__name__)


class BrightEvalDenseRetriever(EvalDenseRetriever):
    """Takes ``retriever_qrels={qid: {docid: rel}}``; docs with ``rel != 1`` are excluded before the top-k cut."""

    def excluded_docids(self, queries: Mapping[str, str], kwargs: Dict[str, Any]) -> Dict[str, Set[str]]:
        qrels = kwargs.pop("retriever_qrels", None)
        if qrels is None:
            logger.warning("No retriever_qrels given: excluded documents cannot be removed from the results.")
            return {}
        return {qid: {doc for doc, rel in qrels[qid].items() if rel != 1} for qid in queries if qid in qrels}
