"""Abstract embedder fine-tuning classes; concrete kinds subclass these and override what differs."""
from FlagEmbedding.abc.finetune.embedder.arguments import (
    AbsEmbedderDataArguments,
    AbsEmbedderModelArguments,
    AbsEmbedderTrainingArguments,
)
from FlagEmbedding.abc.finetune.embedder.dataset import (
    AbsEmbedderCollator,
    AbsEmbedderSameDatasetCollator,
    AbsEmbedderSameDatasetTrainDataset,
    AbsEmbedderTrainDataset,
    EmbedderTrainerCallbackForDataRefresh,
)
from FlagEmbedding.abc.finetune.embedder.modeling import AbsEmbedderModel, EmbedderOutput, PooledEmbedderModel
from FlagEmbedding.abc.finetune.embedder.runner import AbsEmbedderRunner
from FlagEmbedding.abc.finetune.embedder.trainer import AbsEmbedderTrainer

__all__ = [
    "AbsEmbedderModelArguments",
    "AbsEmbedderDataArguments",
    "AbsEmbedderTrainingArguments",
    "AbsEmbedderModel",
    "PooledEmbedderModel",
    "AbsEmbedderTrainer",
    "AbsEmbedderRunner",
    "AbsEmbedderTrainDataset",
    "AbsEmbedderCollator",
    "AbsEmbedderSameDatasetTrainDataset",
    "AbsEmbedderSameDatasetCollator",
    "EmbedderOutput",
    "EmbedderTrainerCallbackForDataRefresh",
]
