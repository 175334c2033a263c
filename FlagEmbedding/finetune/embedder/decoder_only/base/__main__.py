"""Fine-tune a decoder-only (LLM) embedder with contrastive loss on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.embedder.decoder_only.base`` (or ``python -m``).
"""
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.finetune.embedder.decoder_only.base import (
    DecoderOnlyEmbedderDataArguments,
    DecoderOnlyEmbedderModelArguments,
    DecoderOnlyEmbedderRunner,
    DecoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.decoder_only.base "
    "--model_name_or_path BAAI/bge-multilingual-gemma2 --train_data ./train_data --use_lora True "
    "--lora_rank 32 --lora_alpha 64 --output_dir ./gemma2-embedder --per_device_train_batch_size 2 --bf16 "
    "--gradient_checkpointing",
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.embedder.decoder_only.base "
    "--model_name_or_path BAAI/bge-multilingual-gemma2 --train_data ./train_data --use_lora True "
    "--save_merged_lora_model True --query_instruction_for_retrieval 'Given a web search query, retrieve "
    "relevant passages that answer the query.' --output_dir "
    "./gemma2-embedder",
)


def main(argv: Optional[Sequence[str]] = None) -> Any:
    """Parse the command line (default ``sys.argv[1:]``) and train."""
    return run_main(
        DecoderOnlyEmbedderRunner, DecoderOnlyEmbedderModelArguments,
        DecoderOnlyEmbedderDataArguments, DecoderOnlyEmbedderTrainingArguments,
        argv, description=__doc__, examples=EXAMPLES,
    )


if __name__ == "__main__":
    run_cli(main)
