"""What a :class:`~FlagEmbedding.retrieval.index.RetrievalIndex` can hold and how it searches: the representation
and method names, the default fusion weights and :class:`SearchOptions` (checked when made, so a bad flag is refused
before any model is loaded)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence

from FlagEmbedding.retrieval.fusion import FUSIONS
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.quantization import PRECISIONS, TOKEN_PRECISIONS

#: representations an index can hold
REPRESENTATIONS = ("dense", "sparse", "colbert", "bm25")
#: methods that produce candidates on their own (``colbert`` only reranks)
FIRST_STAGE = ("dense", "sparse", "bm25")
#: every search method
METHODS = ("dense", "sparse", "colbert", "bm25", "hybrid", "all")
#: representations only an M3 model provides
M3_ONLY = ("sparse", "colbert")
#: default per-method weights of weighted fusion (dense 1 and sparse 0.3 as in the M3 paper; BM25 scores are
#: about 30x larger than cosine similarities, hence 0.03)
DEFAULT_FUSION_WEIGHTS = {"dense": 1.0, "sparse": 0.3, "bm25": 0.03}
#: the M3 paper's "All" weights for dense, sparse and ColBERT scores
DEFAULT_M3_WEIGHTS = (1.0, 0.3, 1.0)


def is_m3(embedder: Any) -> bool:
    """Whether ``embedder`` produces M3 lexical weights and ColBERT vectors."""
    return embedder is not None and hasattr(embedder, "compute_lexical_matching_score")


@dataclass
class SearchOptions:
    """How :meth:`~FlagEmbedding.retrieval.index.RetrievalIndex.search` ranks (see the evaluation flags of the same names).

    Raises :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) naming the field for an unknown
    method or fusion, hybrid methods that are not two or more first-stage methods, weights of the wrong count,
    negative, non-finite or all 0, a negative ``rrf_k`` or a ``rerank_top_k`` below 1, an unknown
    ``embedding_precision`` / ``colbert_precision`` or a ``rescore_multiplier`` below 1.

    ``embedding_precision`` (one of :data:`~FlagEmbedding.utils.quantization.PRECISIONS`) and ``colbert_precision``
    (``float16``: the padded layout; ``int8`` / ``int4``: unpadded per-token codes) say how the index stores the
    corpus (see :mod:`FlagEmbedding.retrieval.quantized` and :mod:`FlagEmbedding.retrieval.colbert`);
    binary dense search rescores the ``rescore_multiplier x k`` nearest by Hamming distance.
    """

    method: str = "dense"
    hybrid_methods: Optional[List[str]] = None
    fusion: str = "weighted"
    fusion_weights: Optional[List[float]] = None
    rrf_k: int = 60
    m3_weights: List[float] = field(default_factory=lambda: list(DEFAULT_M3_WEIGHTS))
    rerank_top_k: int = 100
    embedding_precision: str = "float32"
    rescore_multiplier: int = 4
    colbert_precision: str = "float16"

    def __post_init__(self) -> None:
        for name, allowed in (("embedding_precision", PRECISIONS), ("colbert_precision", TOKEN_PRECISIONS)):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}.")
        if self.rescore_multiplier < 1:
            raise InputError(f"rescore_multiplier must be >= 1, got {self.rescore_multiplier}.")
        if self.method not in METHODS:
            raise InputError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        if self.fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}.")
        if self.hybrid_methods is not None:
            bad = [m for m in self.hybrid_methods if m not in FIRST_STAGE]
            if bad or len(set(self.hybrid_methods)) < 2:
                raise InputError(f"hybrid_methods must be two or more of {', '.join(FIRST_STAGE)}, "
                                 f"got {self.hybrid_methods}.")
            if self.fusion_weights is not None and len(self.fusion_weights) != len(self.hybrid_methods):
                raise InputError(f"fusion_weights has {len(self.fusion_weights)} values for "
                                 f"{len(self.hybrid_methods)} hybrid_methods.")
        if len(self.m3_weights) != 3:
            raise InputError(f"m3_weights must be 3 values (dense, sparse, colbert), got {self.m3_weights}.")
        for name in ("fusion_weights", "m3_weights"):
            weights = getattr(self, name)
            if weights is None:
                continue
            if not all(math.isfinite(float(w)) and float(w) >= 0 for w in weights):
                raise InputError(f"{name} must be finite numbers >= 0, got {' '.join(str(w) for w in weights)}.")
            if not any(weights):
                raise InputError(f"{name} must not all be 0 (every fused score would be 0).")
        if self.rrf_k < 0 or self.rerank_top_k <= 0:
            raise InputError(f"rrf_k must be >= 0 and rerank_top_k > 0, got {self.rrf_k} and {self.rerank_top_k}.")

    def resolved_hybrid_methods(self, m3: bool) -> List[str]:
        """``hybrid_methods``, defaulting to dense + sparse for an M3 model and dense + BM25 otherwise."""
        if self.hybrid_methods is not None:
            return list(self.hybrid_methods)
        return ["dense", "sparse"] if m3 else ["dense", "bm25"]

    def resolved_fusion_weights(self, methods: Sequence[str]) -> List[float]:
        """``fusion_weights``, defaulting to :data:`DEFAULT_FUSION_WEIGHTS` (:class:`~FlagEmbedding.utils.errors.InputError`,
        a ``ValueError``, when their count is not the number of ``methods``, e.g. for the default ``hybrid_methods`` of
        the model)."""
        if self.fusion_weights is not None:
            if len(self.fusion_weights) != len(methods):
                raise InputError(f"fusion_weights has {len(self.fusion_weights)} values for the {len(methods)} methods "
                                 f"fused ({' '.join(methods)}).")
            return [float(w) for w in self.fusion_weights]
        return [DEFAULT_FUSION_WEIGHTS[m] for m in methods]

    def representations(self, m3: bool) -> List[str]:
        """The representations this search needs."""
        if self.method in ("dense", "sparse", "bm25"):
            return [self.method]
        if self.method == "colbert":
            return ["dense", "colbert"]
        needed = self.resolved_hybrid_methods(m3)
        if self.method == "all":
            needed = needed + ["dense", "sparse", "colbert"]
        return list(dict.fromkeys(needed))

    def tag(self, m3: bool) -> str:
        """A folder-safe name of these options (``dense`` for the default), e.g. ``hybrid-rrf60-dense+bm25``,
        then the storage: ``-int8``, ``-binary-rescore4``, ``-colbert-int8`` when not float."""
        storage = ""
        if self.embedding_precision != "float32" and "dense" in self.representations(m3):
            storage += f"-{self.embedding_precision}"
            if self.embedding_precision in ("binary", "ubinary"):
                storage += f"-rescore{self.rescore_multiplier}"
        if self.colbert_precision != "float16" and "colbert" in self.representations(m3):
            storage += f"-colbert-{self.colbert_precision}"
        return self._method_tag(m3) + storage

    def _method_tag(self, m3: bool) -> str:
        if self.method in ("dense", "sparse", "bm25"):
            return self.method
        if self.method == "colbert":
            return f"colbert-top{self.rerank_top_k}"
        methods = self.resolved_hybrid_methods(m3)
        if self.fusion == "rrf":
            hybrid = f"hybrid-rrf{self.rrf_k}-" + "+".join(methods)
        else:
            weights = self.resolved_fusion_weights(methods)
            hybrid = "hybrid-weighted-" + "+".join(f"{m}={self._number(w)}" for m, w in zip(methods, weights))
        if self.method == "hybrid":
            return hybrid
        m3_weights = "-".join(self._number(w) for w in self.m3_weights)
        return f"all{m3_weights}-top{self.rerank_top_k}-{hybrid[len('hybrid-'):]}"

    @staticmethod
    def _number(value: float) -> str:
        """``value`` in a tag: ``%g`` (``1``, ``0.3``) when that is exact, else every digit (``0.30000001``), so two
        settings that rank differently never share a name."""
        short = f"{float(value):g}"
        return short if float(short) == float(value) else repr(float(value))
