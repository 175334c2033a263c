"""Runner of the encoder-only reranker."""
from __future__ import annotations

import logging
from typing import Tuple

from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel, AbsRerankerRunner
from FlagEmbedding.finetune.reranker.encoder_only.base.modeling import CrossEncoderModel
from FlagEmbedding.finetune.reranker.encoder_only.base.trainer import EncoderOnlyRerankerTrainer
from FlagEmbedding.utils.hub import from_pretrained

logger = logging.getLogger(__name__)


class EncoderOnlyRerankerRunner(AbsRerankerRunner):
    """Fine-tune an HF encoder as a cross-encoder reranker (one logit per pair)."""

    trainer_class = EncoderOnlyRerankerTrainer

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, AbsRerankerModel]:
        """Tokenizer, config (``num_labels=1``) and ``AutoModelForSequenceClassification``."""
        args = self.model_args
        hub = dict(cache_dir=args.cache_dir, token=args.token, trust_remote_code=args.trust_remote_code)
        tokenizer = from_pretrained(
            AutoTokenizer.from_pretrained, args.tokenizer_name or args.model_name_or_path,
            use_fast=args.use_fast_tokenizer, **hub,
        )
        config = from_pretrained(AutoConfig.from_pretrained, args.config_name or args.model_name_or_path,
                                 num_labels=1, **hub)
        logger.info("Config: %s", config)
        base_model = from_pretrained(AutoModelForSequenceClassification.from_pretrained, args.model_name_or_path,
                                     config=config, **hub)
        model = CrossEncoderModel(
            base_model,
            tokenizer=tokenizer,
            train_batch_size=self.training_args.per_device_train_batch_size,
            train_group_size=self.data_args.train_group_size,
        )
        if self.training_args.gradient_checkpointing:
            model.enable_input_require_grads()
        return tokenizer, model
