"""``torchrun -m FlagEmbedding.finetune.embedder.decoder_only.icl`` (or ``python -m``)."""
from FlagEmbedding.abc.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.decoder_only.icl import (
    DecoderOnlyEmbedderICLDataArguments,
    DecoderOnlyEmbedderICLModelArguments,
    DecoderOnlyEmbedderICLRunner,
    DecoderOnlyEmbedderICLTrainingArguments,
)

if __name__ == "__main__":
    run_main(
        DecoderOnlyEmbedderICLRunner, DecoderOnlyEmbedderICLModelArguments, DecoderOnlyEmbedderICLDataArguments,
        DecoderOnlyEmbedderICLTrainingArguments,
    )
