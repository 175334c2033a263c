"""``torchrun -m FlagEmbedding.finetune.embedder.decoder_only.base`` (or ``python -m``)."""
from FlagEmbedding.abc.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.decoder_only.base import (
    DecoderOnlyEmbedderDataArguments,
    DecoderOnlyEmbedderModelArguments,
    DecoderOnlyEmbedderRunner,
    DecoderOnlyEmbedderTrainingArguments,
)

if __name__ == "__main__":
    run_main(
        DecoderOnlyEmbedderRunner, DecoderOnlyEmbedderModelArguments, DecoderOnlyEmbedderDataArguments,
        DecoderOnlyEmbedderTrainingArguments,
    )
