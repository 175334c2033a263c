"""Trainer of decoder-only reranker fine-tuning."""
from FlagEmbedding.abc.finetune.reranker import AbsRerankerTrainer


class DecoderOnlyRerankerTrainer(AbsRerankerTrainer):
    """The shared reranker trainer (``model.save``): adapter files (LoRA) or full weights, the tokenizer and
    ``training_args.bin``."""
