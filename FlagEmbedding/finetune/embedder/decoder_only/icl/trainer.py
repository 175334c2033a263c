"""Trainer of ICL embedder fine-tuning."""
from FlagEmbedding.finetune.embedder.decoder_only.base.trainer import DecoderOnlyEmbedderTrainer


class DecoderOnlyEmbedderICLTrainer(DecoderOnlyEmbedderTrainer):
    """The decoder-only embedder trainer."""
