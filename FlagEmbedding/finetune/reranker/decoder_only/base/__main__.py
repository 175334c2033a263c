"""Fine-tune a decoder-only (LLM) reranker that scores a pair by the logit of 'Yes'.

Run with ``torchrun -m FlagEmbedding.finetune.reranker.decoder_only.base`` (or ``python -m``).
"""
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
from FlagEmbedding.finetune.reranker.decoder_only.base import DecoderOnlyRerankerRunner, RerankerModelArguments
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.reranker.decoder_only.base "
    "--model_name_or_path BAAI/bge-reranker-v2-gemma --train_data ./train_minedHN.jsonl --use_lora True "
    "--lora_rank 32 --lora_alpha 64 --output_dir ./gemma-reranker-finetuned --per_device_train_batch_size "
    "1 --bf16 --gradient_checkpointing",
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.reranker.decoder_only.base "
    "--model_name_or_path BAAI/bge-reranker-v2-gemma --train_data ./train_data_score.jsonl "
    "--knowledge_distillation True --use_lora True --save_merged_lora_model True --output_dir "
    "./gemma-reranker-finetuned",
)


def main(argv: Optional[Sequence[str]] = None) -> Any:
    """Parse the command line (default ``sys.argv[1:]``) and train."""
    return run_main(
        DecoderOnlyRerankerRunner, RerankerModelArguments,
        AbsRerankerDataArguments, AbsRerankerTrainingArguments,
        argv, description=__doc__, examples=EXAMPLES,
    )


if __name__ == "__main__":
    run_cli(main)
