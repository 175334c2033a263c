"""Fine-tune a layer-wise LLM reranker (scores from several layers) on query / pos / neg JSONL data.

Run with ``torchrun -m FlagEmbedding.finetune.reranker.decoder_only.layerwise`` (or ``python -m``).
"""
from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
from FlagEmbedding.finetune.reranker.decoder_only.layerwise import DecoderOnlyRerankerRunner, RerankerModelArguments
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(
        run_main, DecoderOnlyRerankerRunner, RerankerModelArguments,
        AbsRerankerDataArguments, AbsRerankerTrainingArguments, description=__doc__,
    )
