"""Layer-wise reranker fine-tuning (``python -m FlagEmbedding.finetune.reranker.decoder_only.layerwise``)."""
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.arguments import RerankerModelArguments
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.modeling import CrossDecoderModel
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.runner import DecoderOnlyRerankerRunner
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.trainer import DecoderOnlyRerankerTrainer

__all__ = ["CrossDecoderModel", "DecoderOnlyRerankerRunner", "DecoderOnlyRerankerTrainer", "RerankerModelArguments"]
