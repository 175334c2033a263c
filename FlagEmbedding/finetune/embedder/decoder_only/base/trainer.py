"""Trainer of decoder-only embedder fine-tuning."""
from FlagEmbedding.abc.finetune.embedder import AbsEmbedderTrainer


class DecoderOnlyEmbedderTrainer(AbsEmbedderTrainer):
    """The shared embedder trainer; checkpoints hold adapter files (LoRA) or full weights, the tokenizer and
    ``training_args.bin``."""
