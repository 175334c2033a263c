"""Runner of ICL embedder fine-tuning (same-dataset batches with in-context examples)."""
from __future__ import annotations

from typing import Any

from FlagEmbedding.finetune.embedder.decoder_only.base.runner import DecoderOnlyEmbedderRunner
from FlagEmbedding.finetune.embedder.decoder_only.icl.arguments import DecoderOnlyEmbedderICLDataArguments
from FlagEmbedding.finetune.embedder.decoder_only.icl.dataset import DecoderOnlyEmbedderICLSameDatasetTrainDataset
from FlagEmbedding.finetune.embedder.decoder_only.icl.modeling import BiDecoderOnlyEmbedderICLModel
from FlagEmbedding.finetune.embedder.decoder_only.icl.trainer import DecoderOnlyEmbedderICLTrainer


class DecoderOnlyEmbedderICLRunner(DecoderOnlyEmbedderRunner):
    """:class:`DecoderOnlyEmbedderRunner` on ICL same-dataset batches.

    Raises:
        NotImplementedError: ``same_dataset_within_batch`` is not set (ICL needs batches from one file).
    """

    trainer_class = DecoderOnlyEmbedderICLTrainer
    same_dataset_class = DecoderOnlyEmbedderICLSameDatasetTrainDataset
    model_class = BiDecoderOnlyEmbedderICLModel
    data_args: DecoderOnlyEmbedderICLDataArguments

    def __init__(self, model_args: Any, data_args: DecoderOnlyEmbedderICLDataArguments, training_args: Any):
        if not data_args.same_dataset_within_batch:
            raise NotImplementedError(
                "ICL fine-tuning needs --same_dataset_within_batch True (examples come from the same file)."
            )
        super().__init__(model_args=model_args, data_args=data_args, training_args=training_args)
