"""Fine-tune a decoder-only embedder with in-context examples (bge-en-icl style) on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.decoder_only.icl`` (or ``python -m``).
"""
from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.decoder_only.icl import (
    DecoderOnlyEmbedderICLDataArguments,
    DecoderOnlyEmbedderICLModelArguments,
    DecoderOnlyEmbedderICLRunner,
    DecoderOnlyEmbedderICLTrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(
        run_main, DecoderOnlyEmbedderICLRunner, DecoderOnlyEmbedderICLModelArguments,
        DecoderOnlyEmbedderICLDataArguments, DecoderOnlyEmbedderICLTrainingArguments, description=__doc__,
    )
