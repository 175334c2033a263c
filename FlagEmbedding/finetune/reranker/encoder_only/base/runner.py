"""Runner of the encoder-only reranker."""
from __future__ import annotations

from typing import Tuple

from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel, AbsRerankerRunner
from FlagEmbedding.finetune.reranker.encoder_only.base.modeling import CrossEncoderModel
from FlagEmbedding.finetune.reranker.encoder_only.base.trainer import EncoderOnlyRerankerTrainer
from FlagEmbedding.utils.hub import from_pretrained


class EncoderOnlyRerankerRunner(AbsRerankerRunner):
    """Fine-tune an HF encoder as a cross-encoder reranker (one logit per pair)."""

    trainer_class = EncoderOnlyRerankerTrainer

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, AbsRerankerModel]:
        """Tokenizer, config (``num_labels=1``) and ``AutoModelForSequenceClassification``."""
        args = self.model_args
        tokenizer = self.load_tokenizer()
        base_model = from_pretrained(AutoModelForSequenceClassification.from_pretrained, args.model_name_or_path,
                                     config=self.load_config(num_labels=1), **self.hub_kwargs())
        model = CrossEncoderModel(
            base_model,
            tokenizer=tokenizer,
            train_batch_size=self.training_args.per_device_train_batch_size,
            train_group_size=self.data_args.train_group_size,
        )
        self.prepare_model(model)  # returns ``model`` itself
        return tokenizer, model
