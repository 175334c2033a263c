"""In-context-learning embedder model (the decoder-only bi-encoder; examples live in the data)."""
from FlagEmbedding.finetune.embedder.decoder_only.base.modeling import BiDecoderOnlyEmbedderModel


class BiDecoderOnlyEmbedderICLModel(BiDecoderOnlyEmbedderModel):
    """:class:`BiDecoderOnlyEmbedderModel` trained on queries that carry in-context examples."""
