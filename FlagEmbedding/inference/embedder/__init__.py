"""Embedders: encoder-only (FlagModel, BGEM3FlagModel) and decoder-only (FlagLLMModel, FlagICLModel, FlagPseudoMoEModel)."""
from FlagEmbedding.utils.lazy import lazy_getattr

_NAMES = {
    "FlagModel": "FlagEmbedding.inference.embedder.encoder_only",
    "BGEM3FlagModel": "FlagEmbedding.inference.embedder.encoder_only",
    "FlagLLMModel": "FlagEmbedding.inference.embedder.decoder_only",
    "FlagICLModel": "FlagEmbedding.inference.embedder.decoder_only",
    "FlagPseudoMoEModel": "FlagEmbedding.inference.embedder.decoder_only",
    "EmbedderModelClass": "FlagEmbedding.inference.embedder.model_mapping",
    "encoder_only": "FlagEmbedding.inference.embedder.encoder_only",
    "decoder_only": "FlagEmbedding.inference.embedder.decoder_only",
    "model_mapping": "FlagEmbedding.inference.embedder.model_mapping",
}
__all__ = [name for name in _NAMES if name[0].isupper()]
__getattr__ = lazy_getattr(__name__, _NAMES)
