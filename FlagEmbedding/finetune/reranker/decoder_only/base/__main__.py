"""Fine-tune a decoder-only (LLM) reranker that scores a pair by the logit of 'Yes'.

Run with ``torchrun -m FlagEmbedding.finetune.reranker.decoder_only.base`` (or ``python -m``).
"""
from FlagEmbedding.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
from FlagEmbedding.finetune.reranker.decoder_only.base import DecoderOnlyRerankerRunner, RerankerModelArguments
from FlagEmbedding.utils.cli import run_cli

if __name__ == "__main__":
    run_cli(
        run_main, DecoderOnlyRerankerRunner, RerankerModelArguments,
        AbsRerankerDataArguments, AbsRerankerTrainingArguments, description=__doc__,
    )
