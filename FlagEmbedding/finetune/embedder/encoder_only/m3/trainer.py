"""Trainer of BGE-M3 fine-tuning."""
from FlagEmbedding.abc.finetune.embedder import AbsEmbedderTrainer


class EncoderOnlyEmbedderM3Trainer(AbsEmbedderTrainer):
    """The shared embedder trainer; checkpoints hold the encoder, ``colbert_linear.pt`` / ``sparse_linear.pt``
    (when those heads are trained), the tokenizer and ``training_args.bin``."""
