"""Reranker runner: picks the cross-encoder or LLM data format and wires the trainer."""
from __future__ import annotations

from typing import Type, Union

from transformers import Trainer

from FlagEmbedding.abc.finetune.common.runner import AbsRunner
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
from FlagEmbedding.abc.finetune.reranker.trainer import AbsRerankerTrainer


class AbsRerankerRunner(AbsRunner):
    """Runner for reranker kinds. Subclasses implement :meth:`load_tokenizer_and_model`; the data format is
    the LLM one unless :meth:`uses_llm_format` is False (``model_type == 'encoder'``)."""

    trainer_class: Type[AbsRerankerTrainer] = AbsRerankerTrainer

    model_args: AbsRerankerModelArguments
    data_args: AbsRerankerDataArguments
    training_args: AbsRerankerTrainingArguments

    def uses_llm_format(self) -> bool:
        """True unless ``model_type`` is exactly ``'encoder'``."""
        return self.model_args.model_type != "encoder"

    def load_train_dataset(self) -> AbsRerankerTrainDataset:
        """Cross-encoder pairs or the LLM prompt format."""
        dataset_class = AbsLLMRerankerTrainDataset if self.uses_llm_format() else AbsRerankerTrainDataset
        return dataset_class(args=self.data_args, tokenizer=self.tokenizer, seed=self.training_args.seed)

    def load_data_collator(self) -> Union[AbsRerankerCollator, AbsLLMRerankerCollator]:
        """Collator matching the data format."""
        collator_class = AbsLLMRerankerCollator if self.uses_llm_format() else AbsRerankerCollator
        return collator_class(
            tokenizer=self.tokenizer,
            query_max_len=self.data_args.query_max_len,
            passage_max_len=self.data_args.passage_max_len,
            pad_to_multiple_of=self.data_args.pad_to_multiple_of,
            padding=True,
            return_tensors="pt",
        )

    def load_trainer(self) -> Trainer:
        """``trainer_class`` over model, dataset and collator."""
        return self.trainer_class(
            model=self.model,
            args=self.training_args,
            train_dataset=self.train_dataset,
            data_collator=self.data_collator,
            tokenizer=self.tokenizer,
        )
