"""Fine-tune a BGE-M3 embedder (dense, sparse and multi-vector heads) on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.encoder_only.m3`` (or ``python -m``).
"""
from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
    EncoderOnlyEmbedderM3DataArguments,
    EncoderOnlyEmbedderM3ModelArguments,
    EncoderOnlyEmbedderM3Runner,
    EncoderOnlyEmbedderM3TrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(
        run_main, EncoderOnlyEmbedderM3Runner, EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3DataArguments, EncoderOnlyEmbedderM3TrainingArguments, description=__doc__,
    )
