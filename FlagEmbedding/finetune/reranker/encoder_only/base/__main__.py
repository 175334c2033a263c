"""``torchrun -m FlagEmbedding.finetune.reranker.encoder_only.base`` (or ``python -m``)."""
from FlagEmbedding.abc.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import (
    AbsRerankerDataArguments,
    AbsRerankerModelArguments,
    AbsRerankerTrainingArguments,
)
from FlagEmbedding.finetune.reranker.encoder_only.base import EncoderOnlyRerankerRunner

if __name__ == "__main__":
    run_main(EncoderOnlyRerankerRunner, AbsRerankerModelArguments, AbsRerankerDataArguments,
             AbsRerankerTrainingArguments)
