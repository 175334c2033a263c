"""Fine-tune a decoder-only embedder with in-context examples (bge-en-icl style) on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.decoder_only.icl`` (or ``python -m``).
"""
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.decoder_only.icl import (
    DecoderOnlyEmbedderICLDataArguments,
    DecoderOnlyEmbedderICLModelArguments,
    DecoderOnlyEmbedderICLRunner,
    DecoderOnlyEmbedderICLTrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.decoder_only.icl --model_name_or_path "
    "BAAI/bge-en-icl --train_data ./train_data --use_lora True --lora_rank 32 --lora_alpha 64 "
    "--example_query_max_len 256 --example_passage_max_len 256 --retrieval_use_examples True --output_dir "
    "./bge-en-icl-finetuned --bf16",
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.decoder_only.icl --model_name_or_path "
    "BAAI/bge-en-icl --train_data ./train_data --use_lora True --save_merged_lora_model True --output_dir "
    "./bge-en-icl-finetuned --per_device_train_batch_size 2 --gradient_checkpointing",
)


def main(argv: Optional[Sequence[str]] = None) -> Any:
    """Parse the command line (default ``sys.argv[1:]``) and train."""
    return run_main(
        DecoderOnlyEmbedderICLRunner, DecoderOnlyEmbedderICLModelArguments,
        DecoderOnlyEmbedderICLDataArguments, DecoderOnlyEmbedderICLTrainingArguments,
        argv, description=__doc__, examples=EXAMPLES,
    )


if __name__ == "__main__":
    run_cli(main)
