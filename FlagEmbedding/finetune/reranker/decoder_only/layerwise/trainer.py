"""Trainer of layer-wise reranker fine-tuning."""
from FlagEmbedding.finetune.reranker.decoder_only.base.trainer import (
    DecoderOnlyRerankerTrainer as BaseDecoderOnlyRerankerTrainer,
)


class DecoderOnlyRerankerTrainer(BaseDecoderOnlyRerankerTrainer):
    """The decoder reranker trainer (adapter or full weights including the per-layer heads)."""
