"""Decoder-only reranker fine-tuning (``python -m FlagEmbedding.finetune.reranker.decoder_only.base``)."""
from FlagEmbedding.finetune.reranker.decoder_only.base.arguments import RerankerModelArguments
from FlagEmbedding.finetune.reranker.decoder_only.base.modeling import CrossDecoderModel
from FlagEmbedding.finetune.reranker.decoder_only.base.runner import DecoderOnlyRerankerRunner
from FlagEmbedding.finetune.reranker.decoder_only.base.trainer import DecoderOnlyRerankerTrainer

__all__ = ["CrossDecoderModel", "DecoderOnlyRerankerRunner", "DecoderOnlyRerankerTrainer", "RerankerModelArguments"]
