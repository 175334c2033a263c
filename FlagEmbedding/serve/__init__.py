"""HTTP server for embedders and rerankers: OpenAI-compatible ``/v1/embeddings``, ``/v1/rerank``, dynamic batching.

Run ``python -m FlagEmbedding.serve --help``; build the app in-process with :func:`create_app`.
"""
from FlagEmbedding.utils.lazy import lazy_getattr

_NAMES = {
    "create_app": "FlagEmbedding.serve.app",
    "ServeSettings": "FlagEmbedding.serve.settings",
    "Services": "FlagEmbedding.serve.services",
    "EmbedderService": "FlagEmbedding.serve.services",
    "RerankerService": "FlagEmbedding.serve.services",
    "load_services": "FlagEmbedding.serve.services",
    "DynamicBatcher": "FlagEmbedding.serve.batcher",
}
__all__ = list(_NAMES)
__getattr__ = lazy_getattr(__name__, _NAMES)
