"""Embedders, rerankers and the auto-loaders that pick the right class for a checkpoint."""
from FlagEmbedding import _NAMES
from FlagEmbedding.utils.lazy import lazy_getattr

__all__ = [name for name in _NAMES if name[0].isupper() and not name.startswith("Abs")]
__getattr__ = lazy_getattr(__name__, {name: _NAMES[name] for name in __all__})
