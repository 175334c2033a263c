"""``torchrun -m FlagEmbedding.finetune.embedder.encoder_only.base`` (or ``python -m``)."""
from FlagEmbedding.abc.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderRunner,
    EncoderOnlyEmbedderTrainingArguments,
)

if __name__ == "__main__":
    run_main(
        EncoderOnlyEmbedderRunner, EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments,
        EncoderOnlyEmbedderTrainingArguments,
    )
