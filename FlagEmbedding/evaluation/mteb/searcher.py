"""mteb 2.x model wrapper around a FlagEmbedding embedder (and the plain reranker stage)."""
from __future__ import annotations

import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.types import PromptType

from FlagEmbedding.abc.evaluation.searcher import EvalDenseRetriever, EvalReranker, dense_array
from FlagEmbedding.abc.evaluation.naming import passage_text
from FlagEmbedding.compat import MTEBRetrieverCompat

logger = logging.getLogger(__name__)


def _texts(items: Iterable[Union[str, Dict[str, str]]]) -> List[str]:
    """Strings pass through; ``{"title", "text"}`` dicts become ``"{title} {text}".strip()``."""
    return [item if isinstance(item, str) else passage_text(item) for item in items]


class MTEBEvalDenseRetriever(EvalDenseRetriever, AbsEncoder, MTEBRetrieverCompat):
    """An mteb encoder: queries (and symmetric-task texts) get the query instruction, documents do not.

    Embeddings are float32 from ``dense_vecs``; mteb's batch size is ignored (the embedder's own applies).
    """

    #: always set by ``__init__`` (mteb's encoder protocol needs one; AbsEncoder allows ``None``)
    mteb_model_meta: ModelMeta

    def __init__(self, embedder: Any, search_top_k: int = 1000, overwrite: bool = False,
                 cache_shard_rows: int = 100_000, **search_kwargs: Any):
        super().__init__(embedder, search_top_k=search_top_k, overwrite=overwrite, cache_shard_rows=cache_shard_rows,
                         **search_kwargs)
        self.model = embedder
        self.mteb_model_meta = ModelMeta.create_empty(overwrites={"similarity_fn_name": ScoringFunction.COSINE})

    # ------------------------------------------------------------------ settings
    def set_instruction(self, instruction: Optional[str]) -> None:
        """Set the embedder's ``query_instruction_for_retrieval``."""
        self.embedder.query_instruction_for_retrieval = instruction

    # the 1.4.2 API (no arguments); mteb's AbsEncoder.get_instruction(task_metadata, prompt_type) is not used
    # here: encode() below replaces the AbsEncoder code that calls it
    def get_instruction(self) -> Optional[str]:  # type: ignore[override]
        """The embedder's ``query_instruction_for_retrieval``."""
        return self.embedder.query_instruction_for_retrieval

    def set_normalize_embeddings(self, normalize_embeddings: bool = True) -> None:
        """Turn L2 normalization on or off."""
        self.embedder.normalize_embeddings = normalize_embeddings

    def set_examples(self, examples_for_task: Optional[Sequence[Dict[str, str]]] = None) -> None:
        """Give in-context examples to an ICL embedder (other embedders ignore them, with a warning)."""
        if hasattr(self.embedder, "set_examples"):
            self.embedder.set_examples(examples_for_task)
        else:
            logger.warning("%s takes no in-context examples; ignoring them.", type(self.embedder).__name__)

    # ------------------------------------------------------------------ encoding
    def encode_queries(self, queries: Sequence[str], **kwargs: Any) -> np.ndarray:
        """Query vectors (with the instruction)."""
        return dense_array(self.embedder.encode_queries(list(queries))).astype(np.float32)

    def encode_corpus(self, corpus: Sequence[Union[str, Dict[str, str]]], **kwargs: Any) -> np.ndarray:
        """Passage vectors; dict documents are joined as ``"{title} {text}"``."""
        return dense_array(self.embedder.encode_corpus(_texts(corpus))).astype(np.float32)

    def encode(self, inputs: Any, *, task_metadata: Any = None, hf_split: Optional[str] = None,
               hf_subset: Optional[str] = None, prompt_type: Optional[PromptType] = None, **kwargs: Any) -> np.ndarray:
        """mteb entry point: ``inputs`` is a DataLoader of batches with a ``text`` column (or a list of texts).

        Documents use :meth:`encode_corpus`; queries and texts of symmetric tasks use :meth:`encode_queries`.
        """
        if isinstance(inputs, (list, tuple)):
            texts = _texts(inputs)
        else:
            texts = [text for batch in inputs for text in _texts(batch["text"])]
        if prompt_type == PromptType.document:
            return self.encode_corpus(texts)
        return self.encode_queries(texts)


class MTEBEvalReranker(EvalReranker):
    """The shared reranking stage, under the MTEB benchmark's name."""
