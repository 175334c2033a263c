"""Fine-tune a cross-encoder reranker on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.reranker.encoder_only.base`` (or ``python -m``).
"""
from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import (
    AbsRerankerDataArguments,
    AbsRerankerModelArguments,
    AbsRerankerTrainingArguments,
)
from FlagEmbedding.finetune.reranker.encoder_only.base import EncoderOnlyRerankerRunner
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(
        run_main, EncoderOnlyRerankerRunner, AbsRerankerModelArguments,
        AbsRerankerDataArguments, AbsRerankerTrainingArguments, description=__doc__,
    )
