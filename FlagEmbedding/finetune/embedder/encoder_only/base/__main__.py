"""Fine-tune an encoder-only (BERT-like) embedder with contrastive loss on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.encoder_only.base`` (or ``python -m``).
"""
from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderRunner,
    EncoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(
        run_main, EncoderOnlyEmbedderRunner, EncoderOnlyEmbedderModelArguments,
        EncoderOnlyEmbedderDataArguments, EncoderOnlyEmbedderTrainingArguments, description=__doc__,
    )
