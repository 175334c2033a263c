"""Embedder runner: picks the standard or same-dataset data path and wires the trainer."""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Type, Union

from torch import nn
from transformers import Trainer

from FlagEmbedding.abc.finetune.common.runner import AbsRunner
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
from FlagEmbedding.retrieval.training_eval import RetrievalEvaluation
from FlagEmbedding.abc.finetune.embedder.trainer import AbsEmbedderTrainer

logger = logging.getLogger(__name__)


class AbsEmbedderRunner(AbsRunner):
    """Runner for embedder kinds. Subclasses implement :meth:`load_tokenizer_and_model` and may swap
    :attr:`trainer_class`, :attr:`train_dataset_class` / :attr:`same_dataset_class` or the collators."""

    trainer_class: Type[AbsEmbedderTrainer] = AbsEmbedderTrainer
    train_dataset_class: Type[AbsEmbedderTrainDataset] = AbsEmbedderTrainDataset
    same_dataset_class: Type[AbsEmbedderSameDatasetTrainDataset] = AbsEmbedderSameDatasetTrainDataset
    collator_class: Type[AbsEmbedderCollator] = AbsEmbedderCollator
    same_dataset_collator_class: Type[AbsEmbedderSameDatasetCollator] = AbsEmbedderSameDatasetCollator
    #: the ``--eval_retrieval_dir`` evaluation
    retrieval_evaluation_class: Type[RetrievalEvaluation] = RetrievalEvaluation

    model_args: AbsEmbedderModelArguments
    data_args: AbsEmbedderDataArguments
    training_args: AbsEmbedderTrainingArguments

    def model_kwargs(self) -> Dict[str, Any]:
        """Loss, pooling and MRL keywords of the training wrapper, from the training arguments."""
        training = self.training_args
        return dict(
            negatives_cross_device=training.negatives_cross_device,
            temperature=training.temperature,
            sub_batch_size=training.sub_batch_size or -1,
            kd_loss_type=training.kd_loss_type,
            sentence_pooling_method=training.sentence_pooling_method,
            normalize_embeddings=training.normalize_embeddings,
            use_mrl=training.use_mrl,
            mrl_dims=training.mrl_dims,
        )

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Gradient-checkpointing inputs as the base runner, then ``fix_position_embedding`` freezing."""
        super().prepare_model(model)
        if self.training_args.fix_position_embedding:
            logger.info("Froze %d position-embedding tensors.", self.freeze_parameters(model, "position_embeddings"))
        return model

    def load_train_dataset(self) -> Union[AbsEmbedderTrainDataset, AbsEmbedderSameDatasetTrainDataset]:
        """Standard dataset, or same-dataset batches (then the per-device batch size is forced to 1)."""
        if not self.data_args.same_dataset_within_batch:
            return self.train_dataset_class(args=self.data_args, tokenizer=self.tokenizer,
                                            seed=self.training_args.seed)
        dataset = self.same_dataset_class(
            args=self.data_args,
            default_batch_size=self.training_args.per_device_train_batch_size,
            seed=self.training_args.seed,
            tokenizer=self.tokenizer,
            process_index=self.training_args.process_index,
            num_processes=self.training_args.world_size,
        )
        self.training_args.per_device_train_batch_size = 1
        self.training_args.dataloader_num_workers = 0
        return dataset

    def load_data_collator(self) -> AbsEmbedderCollator:
        """Collator matching the dataset kind; with ``--gradient_cache`` (and no ``--sub_batch_size``) each chunk is
        padded on its own."""
        collator_class = (
            self.same_dataset_collator_class if self.data_args.same_dataset_within_batch else self.collator_class
        )
        training = self.training_args
        return collator_class(
            tokenizer=self.tokenizer,
            query_max_len=self.data_args.query_max_len,
            passage_max_len=self.data_args.passage_max_len,
            sub_batch_size=training.sub_batch_size or (training.gradient_cache_chunk_size if training.gradient_cache
                                                       else -1),
            pad_to_multiple_of=self.data_args.pad_to_multiple_of,
            padding=True,
            return_tensors="pt",
        )

    def load_retrieval_evaluation(self) -> Optional[RetrievalEvaluation]:
        """The ``--eval_retrieval_dir`` evaluation set (``None`` without it)."""
        data = self.data_args
        if not data.eval_retrieval_dir:
            return None
        return self.retrieval_evaluation_class(
            data.eval_retrieval_dir, data.eval_retrieval_split, query_max_len=data.query_max_len,
            passage_max_len=data.passage_max_len, instruction=data.query_instruction_for_retrieval,
            query_format=data.query_instruction_format, batch_size=self.training_args.per_device_eval_batch_size)

    def load_trainer(self) -> Optional[Trainer]:
        """``trainer_class`` over model, dataset and collator (+ the epoch refresh callback if same-dataset)."""
        trainer = self.trainer_class(
            model=self.model,
            args=self.training_args,
            train_dataset=self.train_dataset,
            eval_dataset=self.load_retrieval_evaluation(),
            data_collator=self.data_collator,
            tokenizer=self.tokenizer,
        )
        if self.data_args.same_dataset_within_batch:
            trainer.add_callback(EmbedderTrainerCallbackForDataRefresh(self.train_dataset))
        return trainer
