"""FlagEmbedding: BGE embedders and rerankers, evaluation and fine-tuning.

Public names are imported on first access, so ``import FlagEmbedding`` stays cheap.
"""
from typing import TYPE_CHECKING

from FlagEmbedding.module_aliases import install as _install_module_aliases
from FlagEmbedding.utils.lazy import lazy_getattr

_EMBEDDER = "FlagEmbedding.inference.embedder"
_RERANKER = "FlagEmbedding.inference.reranker"
_NAMES = {
    "AbsEmbedder": "FlagEmbedding.abc.inference",
    "AbsReranker": "FlagEmbedding.abc.inference",
    "FlagAutoModel": "FlagEmbedding.inference.auto_embedder",
    "FlagAutoReranker": "FlagEmbedding.inference.auto_reranker",
    "EmbedderModelClass": f"{_EMBEDDER}.model_mapping",
    "RerankerModelClass": f"{_RERANKER}.model_mapping",
    "FlagModel": f"{_EMBEDDER}.encoder_only",
    "BGEM3FlagModel": f"{_EMBEDDER}.encoder_only",
    "FlagLLMModel": f"{_EMBEDDER}.decoder_only",
    "FlagICLModel": f"{_EMBEDDER}.decoder_only",
    "FlagPseudoMoEModel": f"{_EMBEDDER}.decoder_only",
    "FlagReranker": f"{_RERANKER}.encoder_only",
    "FlagLLMReranker": f"{_RERANKER}.decoder_only",
    "LayerWiseFlagLLMReranker": f"{_RERANKER}.decoder_only",
    "LightWeightFlagLLMReranker": f"{_RERANKER}.decoder_only",
    "abc": "FlagEmbedding.abc",
    "inference": "FlagEmbedding.inference",
    "finetune": "FlagEmbedding.finetune",
    "evaluation": "FlagEmbedding.evaluation",
    "utils": "FlagEmbedding.utils",
}
__all__ = [name for name in _NAMES if name[0].isupper()]
__getattr__ = lazy_getattr(__name__, _NAMES)
_install_module_aliases()

if TYPE_CHECKING:  # pragma: no cover - static analysers see the real imports
    from FlagEmbedding.abc.inference import AbsEmbedder, AbsReranker
    from FlagEmbedding.inference import *  # noqa: F401,F403
