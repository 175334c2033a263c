"""Trainer of layer-wise reranker fine-tuning."""
from FlagEmbedding.finetune.reranker.decoder_only.base.trainer import (
    DecoderOnlyRerankerTrainer as BaseDecoderOnlyRerankerTrainer,
)


class DecoderOnlyRerankerLayerWiseTrainer(BaseDecoderOnlyRerankerTrainer):
    """The decoder reranker trainer (adapter or full weights including the per-layer heads)."""


#: FlagEmbedding 1.4.2's name of this class at this path
DecoderOnlyRerankerTrainer = DecoderOnlyRerankerLayerWiseTrainer
