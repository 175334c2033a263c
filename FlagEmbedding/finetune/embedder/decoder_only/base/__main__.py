"""Fine-tune a decoder-only (LLM) embedder with contrastive loss on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.decoder_only.base`` (or ``python -m``).
"""
from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.decoder_only.base import (
    DecoderOnlyEmbedderDataArguments,
    DecoderOnlyEmbedderModelArguments,
    DecoderOnlyEmbedderRunner,
    DecoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(
        run_main, DecoderOnlyEmbedderRunner, DecoderOnlyEmbedderModelArguments,
        DecoderOnlyEmbedderDataArguments, DecoderOnlyEmbedderTrainingArguments, description=__doc__,
    )
