"""Rerankers: encoder-only (FlagReranker) and decoder-only (FlagLLMReranker, LayerWiseFlagLLMReranker, LightWeightFlagLLMReranker)."""
from FlagEmbedding.utils.lazy import lazy_getattr

_NAMES = {
    "FlagReranker": "FlagEmbedding.inference.reranker.encoder_only",
    "FlagLLMReranker": "FlagEmbedding.inference.reranker.decoder_only",
    "LayerWiseFlagLLMReranker": "FlagEmbedding.inference.reranker.decoder_only",
    "LightWeightFlagLLMReranker": "FlagEmbedding.inference.reranker.decoder_only",
    "RerankerModelClass": "FlagEmbedding.inference.reranker.model_mapping",
    "encoder_only": "FlagEmbedding.inference.reranker.encoder_only",
    "decoder_only": "FlagEmbedding.inference.reranker.decoder_only",
    "model_mapping": "FlagEmbedding.inference.reranker.model_mapping",
}
__all__ = [name for name in _NAMES if name[0].isupper()]
__getattr__ = lazy_getattr(__name__, _NAMES)
