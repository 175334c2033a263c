"""Fine-tune an encoder-only (BERT-like) embedder with contrastive loss on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.encoder_only.base`` (or ``python -m``).
"""
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderRunner,
    EncoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.encoder_only.base "
    "--model_name_or_path BAAI/bge-base-en-v1.5 --train_data ./train_data --train_group_size 8 "
    "--query_max_len 64 --passage_max_len 256 --output_dir ./bge-base-finetuned "
    "--per_device_train_batch_size 8 --learning_rate 1e-5 --num_train_epochs 1 --temperature 0.02",
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.encoder_only.base "
    "--model_name_or_path BAAI/bge-base-en-v1.5 --train_data ./train_minedHN.jsonl "
    "--query_instruction_for_retrieval 'Represent this sentence for searching relevant passages: ' "
    "--output_dir ./bge-base-finetuned --fp16 --gradient_checkpointing",
    "torchrun --nproc_per_node 2 -m FlagEmbedding.finetune.embedder.encoder_only.base "
    "--model_name_or_path BAAI/bge-base-en-v1.5 --train_data ./train_data --output_dir "
    "./bge-base-finetuned --negatives_cross_device --gradient_cache True --gradient_cache_chunk_size 16",
)


def main(argv: Optional[Sequence[str]] = None) -> Any:
    """Parse the command line (default ``sys.argv[1:]``) and train."""
    return run_main(
        EncoderOnlyEmbedderRunner, EncoderOnlyEmbedderModelArguments,
        EncoderOnlyEmbedderDataArguments, EncoderOnlyEmbedderTrainingArguments,
        argv, description=__doc__, examples=EXAMPLES,
    )


if __name__ == "__main__":
    run_cli(main)
