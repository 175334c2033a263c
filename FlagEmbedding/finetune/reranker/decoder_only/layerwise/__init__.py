"""Layer-wise reranker fine-tuning (``python -m FlagEmbedding.finetune.reranker.decoder_only.layerwise``).

``CrossDecoderModel``, ``DecoderOnlyRerankerRunner``, ``DecoderOnlyRerankerTrainer`` and
``RerankerModelArguments`` are FlagEmbedding 1.4.2's names of the ``DecoderOnlyRerankerLayerWise*`` classes here.
"""
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.arguments import (
    DecoderOnlyRerankerLayerWiseModelArguments,
    RerankerModelArguments,
)
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.modeling import (
    CrossDecoderModel,
    DecoderOnlyRerankerLayerWiseModel,
)
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.runner import (
    DecoderOnlyRerankerLayerWiseRunner,
    DecoderOnlyRerankerRunner,
)
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.trainer import (
    DecoderOnlyRerankerLayerWiseTrainer,
    DecoderOnlyRerankerTrainer,
)

__all__ = ["CrossDecoderModel", "DecoderOnlyRerankerRunner", "DecoderOnlyRerankerTrainer", "RerankerModelArguments",
           "DecoderOnlyRerankerLayerWiseModel", "DecoderOnlyRerankerLayerWiseModelArguments",
           "DecoderOnlyRerankerLayerWiseRunner", "DecoderOnlyRerankerLayerWiseTrainer"]
