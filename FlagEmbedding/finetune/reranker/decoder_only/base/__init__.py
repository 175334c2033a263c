"""Decoder-only reranker fine-tuning (``python -m FlagEmbedding.finetune.reranker.decoder_only.base``).

``CrossDecoderModel`` and ``RerankerModelArguments`` are FlagEmbedding 1.4.2's names of
:class:`DecoderOnlyRerankerModel` and :class:`DecoderOnlyRerankerModelArguments`.
"""
from FlagEmbedding.finetune.reranker.decoder_only.base.arguments import (
    DecoderOnlyRerankerModelArguments,
    RerankerModelArguments,
)
from FlagEmbedding.finetune.reranker.decoder_only.base.modeling import CrossDecoderModel, DecoderOnlyRerankerModel
from FlagEmbedding.finetune.reranker.decoder_only.base.runner import DecoderOnlyRerankerRunner
from FlagEmbedding.finetune.reranker.decoder_only.base.trainer import DecoderOnlyRerankerTrainer

__all__ = ["CrossDecoderModel", "DecoderOnlyRerankerRunner", "DecoderOnlyRerankerTrainer", "RerankerModelArguments",
           "DecoderOnlyRerankerModel", "DecoderOnlyRerankerModelArguments"]
