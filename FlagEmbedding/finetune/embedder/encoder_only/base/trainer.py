"""Trainer of the encoder-only embedder."""
from FlagEmbedding.abc.finetune.embedder import AbsEmbedderTrainer


class EncoderOnlyEmbedderTrainer(AbsEmbedderTrainer):
    """The shared embedder trainer; checkpoints hold HF weights, tokenizer and ``training_args.bin``."""
