"""Embedder trainer (the shared :class:`~FlagEmbedding.abc.finetune.common.trainer.AbsTrainer` behaviour)."""
from FlagEmbedding.abc.finetune.common.trainer import AbsTrainer


class AbsEmbedderTrainer(AbsTrainer):
    """Trainer for :class:`AbsEmbedderModel` wrappers: checkpoints are written with ``model.save``."""

    save_method = "save"
