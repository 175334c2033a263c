"""Fine-tune a BGE-M3 embedder (dense, sparse and multi-vector heads) on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.encoder_only.m3`` (or ``python -m``).
"""
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
    EncoderOnlyEmbedderM3DataArguments,
    EncoderOnlyEmbedderM3ModelArguments,
    EncoderOnlyEmbedderM3Runner,
    EncoderOnlyEmbedderM3TrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.encoder_only.m3 --model_name_or_path "
    "BAAI/bge-m3 --train_data ./train_data --train_group_size 8 --query_max_len 256 --passage_max_len "
    "1024 --output_dir ./bge-m3-finetuned --per_device_train_batch_size 2 --learning_rate 1e-5 --fp16",
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.encoder_only.m3 --model_name_or_path "
    "BAAI/bge-m3 --train_data ./train_data_score.jsonl --knowledge_distillation True --kd_loss_type "
    "m3_kd_loss --unified_finetuning True --use_self_distill True --output_dir ./bge-m3-finetuned",
)


def main(argv: Optional[Sequence[str]] = None) -> Any:
    """Parse the command line (default ``sys.argv[1:]``) and train."""
    return run_main(
        EncoderOnlyEmbedderM3Runner, EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3DataArguments, EncoderOnlyEmbedderM3TrainingArguments,
        argv, description=__doc__, examples=EXAMPLES,
    )


if __name__ == "__main__":
    run_cli(main)
