"""Fine-tune a layer-wise LLM reranker (scores from several layers) on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.reranker.decoder_only.layerwise`` (or ``python -m``).
"""
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
from FlagEmbedding.finetune.reranker.decoder_only.layerwise import DecoderOnlyRerankerRunner, RerankerModelArguments
from FlagEmbedding.utils.cli import run_cli

#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.reranker.decoder_only.layerwise "
    "--model_name_or_path BAAI/bge-reranker-v2-minicpm-layerwise --model_type from_finetuned_model "
    "--train_data ./train_minedHN.jsonl --use_lora True --start_layer 8 --head_multi True --head_type "
    "simple --output_dir ./layerwise-reranker-finetuned --bf16",
    "torchrun --nproc_per_node 1 -m FlagEmbedding.finetune.reranker.decoder_only.layerwise "
    "--model_name_or_path openbmb/MiniCPM-2B-dpo-bf16 --model_type from_raw_model --train_data "
    "./train_minedHN.jsonl --use_lora True --start_layer 8 --output_dir ./layerwise-reranker-finetuned "
    "--trust_remote_code True",
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
