"""Abstract reranker fine-tuning classes; concrete kinds subclass these and override what differs."""
from FlagEmbedding.abc.finetune.reranker.arguments import (
    AbsRerankerDataArguments,
    AbsRerankerModelArguments,
    AbsRerankerTrainingArguments,
)
from FlagEmbedding.abc.finetune.reranker.dataset import (
    AbsLLMRerankerCollator,
    AbsLLMRerankerTrainDataset,
    AbsRerankerCollator,
    AbsRerankerTrainDataset,
)
from FlagEmbedding.abc.finetune.reranker.modeling import AbsRerankerModel, RerankerOutput
from FlagEmbedding.abc.finetune.reranker.runner import AbsRerankerRunner
from FlagEmbedding.abc.finetune.reranker.trainer import AbsRerankerTrainer

__all__ = [
    "AbsRerankerModelArguments",
    "AbsRerankerDataArguments",
    "AbsRerankerTrainingArguments",
    "AbsRerankerTrainDataset",
    "AbsRerankerCollator",
    "AbsRerankerModel",
    "AbsRerankerTrainer",
    "AbsRerankerRunner",
    "AbsLLMRerankerTrainDataset",
    "AbsLLMRerankerCollator",
    "RerankerOutput",
]
