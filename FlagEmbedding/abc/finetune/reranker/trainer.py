"""Reranker trainer (the shared :class:`~FlagEmbedding.abc.finetune.common.trainer.AbsTrainer` behaviour)."""
from FlagEmbedding.abc.finetune.common.trainer import AbsTrainer


class AbsRerankerTrainer(AbsTrainer):
    """Trainer for :class:`AbsRerankerModel` wrappers: checkpoints are written with ``model.save``
    (the encoder reranker switches to ``save_pretrained``)."""

    save_method = "save"
