"""Runner of the encoder-only embedder."""
from __future__ import annotations

import logging
from typing import Tuple

from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderModel, AbsEmbedderRunner
from FlagEmbedding.finetune.embedder.encoder_only.base.modeling import BiEncoderOnlyEmbedderModel
from FlagEmbedding.finetune.embedder.encoder_only.base.trainer import EncoderOnlyEmbedderTrainer
from FlagEmbedding.utils.hub import from_pretrained

logger = logging.getLogger(__name__)


class EncoderOnlyEmbedderRunner(AbsEmbedderRunner):
    """Fine-tune an HF encoder (BERT, XLM-R, ...) as a dense embedder."""

    trainer_class = EncoderOnlyEmbedderTrainer

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, AbsEmbedderModel]:
        """Tokenizer (``tokenizer_name`` or the model path), config (``config_name`` or the model path), model."""
        args = self.model_args
        hub = dict(cache_dir=args.cache_dir, token=args.token, trust_remote_code=args.trust_remote_code)
        tokenizer = from_pretrained(
            AutoTokenizer.from_pretrained, args.tokenizer_name or args.model_name_or_path,
            use_fast=args.use_fast_tokenizer, **hub,
        )
        config = from_pretrained(AutoConfig.from_pretrained, args.config_name or args.model_name_or_path, **hub)
        logger.info("Config: %s", config)
        base_model = from_pretrained(AutoModel.from_pretrained, args.model_name_or_path, config=config, **hub)
        training = self.training_args
        model = BiEncoderOnlyEmbedderModel(
            base_model,
            tokenizer=tokenizer,
            negatives_cross_device=training.negatives_cross_device,
            temperature=training.temperature,
            sub_batch_size=training.sub_batch_size or -1,
            kd_loss_type=training.kd_loss_type,
            sentence_pooling_method=training.sentence_pooling_method,
            normalize_embeddings=training.normalize_embeddings,
            use_mrl=training.use_mrl,
            mrl_dims=training.mrl_dims,
        )
        if training.gradient_checkpointing:
            model.enable_input_require_grads()
        if training.fix_position_embedding:
            logger.info("Froze %d position-embedding tensors.", self.freeze_parameters(model, "position_embeddings"))
        return tokenizer, model
