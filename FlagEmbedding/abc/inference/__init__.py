"""Abstract inference classes: every embedder derives from AbsEmbedder, every reranker from AbsReranker."""
from FlagEmbedding.module_aliases import register_shadowed
from FlagEmbedding.utils.lazy import lazy_getattr

_NAMES = {
    "AbsEmbedder": "FlagEmbedding.abc.inference.embedder",
    "AbsReranker": "FlagEmbedding.abc.inference.reranker",
}
__all__ = list(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
register_shadowed(__name__)
