"""Fine-tune a cross-encoder reranker on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.reranker.encoder_only.base`` (or ``python -m``).
"""
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import (
    AbsRerankerDataArguments,
    AbsRerankerModelArguments,
    AbsRerankerTrainingArguments,
)
from FlagEmbedding.finetune.reranker.encoder_only.base import EncoderOnlyRerankerRunner
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.reranker.encoder_only.base "
    "--model_name_or_path BAAI/bge-reranker-v2-m3 --train_data ./train_minedHN.jsonl --train_group_size 8 "
    "--query_max_len 256 --passage_max_len 256 --output_dir ./bge-reranker-finetuned "
    "--per_device_train_batch_size 2 --learning_rate 6e-5 --fp16",
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.reranker.encoder_only.base "
    "--model_name_or_path BAAI/bge-reranker-base --train_data ./train_data_score.jsonl "
    "--knowledge_distillation True --output_dir ./bge-reranker-finetuned --gradient_checkpointing",
)


def main(argv: Optional[Sequence[str]] = None) -> Any:
    """Parse the command line (default ``sys.argv[1:]``) and train."""
    return run_main(
        EncoderOnlyRerankerRunner, AbsRerankerModelArguments,
        AbsRerankerDataArguments, AbsRerankerTrainingArguments,
        argv, description=__doc__, examples=EXAMPLES,
    )


if __name__ == "__main__":
    run_cli(main)
