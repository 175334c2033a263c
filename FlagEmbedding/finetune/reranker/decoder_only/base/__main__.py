"""``torchrun -m FlagEmbedding.finetune.reranker.decoder_only.base`` (or ``python -m``)."""
from FlagEmbedding.abc.finetune.common.cli import run_main
from FlagEmbedding.abc.finetune.reranker import AbsRerankerDataArguments, AbsRerankerTrainingArguments
from FlagEmbedding.finetune.reranker.decoder_only.base import DecoderOnlyRerankerRunner, RerankerModelArguments

if __name__ == "__main__":
    run_main(DecoderOnlyRerankerRunner, RerankerModelArguments, AbsRerankerDataArguments, AbsRerankerTrainingArguments)
