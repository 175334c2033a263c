"""Runner of decoder-only embedder fine-tuning (LoRA through peft, optional merged model)."""
from __future__ import annotations

import logging
from typing import Optional, Tuple

from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase, Trainer

from FlagEmbedding.abc.finetune.common.lora import LoraRunnerMixin, merge_adapters, model_load_kwargs
from FlagEmbedding.abc.finetune.embedder import AbsEmbedderCollator, AbsEmbedderRunner
from FlagEmbedding.finetune.embedder.decoder_only.base.arguments import DecoderOnlyEmbedderModelArguments
from FlagEmbedding.finetune.embedder.decoder_only.base.dataset import (
    DecoderOnlyEmbedderCollator,
    DecoderOnlyEmbedderSameDatasetCollator,
)
from FlagEmbedding.finetune.embedder.decoder_only.base.modeling import BiDecoderOnlyEmbedderModel
from FlagEmbedding.finetune.embedder.decoder_only.base.trainer import DecoderOnlyEmbedderTrainer
from FlagEmbedding.utils.hub import from_pretrained

logger = logging.getLogger(__name__)


class DecoderOnlyEmbedderRunner(LoraRunnerMixin, AbsEmbedderRunner):
    """Fine-tune a decoder-only LLM as an embedder.

    Tokenizer: left padding, pad = unk (else eos) when missing, ``additional_special_tokens`` added (the
    embeddings grow when the vocabulary no longer fits; they are then saved to ``embedding/emb.pth``). Model:
    ``AutoModel`` with ``use_cache=False``, ``raw_peft`` merged, then LoRA / ``from_peft``. After training,
    ``save_merged_lora_model`` writes ``merged_model/``; ``only_merge_lora_model`` only does that.
    """

    trainer_class = DecoderOnlyEmbedderTrainer
    collator_class = DecoderOnlyEmbedderCollator
    same_dataset_collator_class = DecoderOnlyEmbedderSameDatasetCollator
    model_class = BiDecoderOnlyEmbedderModel
    peft_task_type = "FEATURE_EXTRACTION"
    model_args: DecoderOnlyEmbedderModelArguments

    def hub_kwargs(self) -> dict:
        """Cache / token / remote-code keywords of every ``from_pretrained``."""
        args = self.model_args
        return dict(cache_dir=args.cache_dir, token=args.token, trust_remote_code=args.trust_remote_code)

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Tokenizer with left padding, a pad token and the additional special tokens.

        ``add_eos_token`` is not passed: transformers 5 then rebuilds the post-processor and drops BOS for
        Llama/Gemma-style tokenizers; the collator appends EOS explicitly instead.
        """
        args = self.model_args
        tokenizer = from_pretrained(AutoTokenizer.from_pretrained, args.tokenizer_name or args.model_name_or_path,
                                    use_fast=args.use_fast_tokenizer, **self.hub_kwargs())
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.unk_token if tokenizer.unk_token is not None else tokenizer.eos_token
        tokenizer.padding_side = "left"
        if args.additional_special_tokens:
            added = tokenizer.add_special_tokens({"additional_special_tokens": list(args.additional_special_tokens)},
                                                 replace_extra_special_tokens=False)
            logger.info("Added %d special tokens %s.", added, args.additional_special_tokens)
        return tokenizer

    def load_base_model(self) -> PreTrainedModel:
        """``AutoModel`` (config ``use_cache=False``) with ``raw_peft`` merged."""
        args = self.model_args
        config = from_pretrained(AutoConfig.from_pretrained, args.config_name or args.model_name_or_path,
                                 **self.hub_kwargs())
        config.use_cache = False
        model = from_pretrained(AutoModel.from_pretrained, args.model_name_or_path, config=config,
                                **model_load_kwargs(args.use_flash_attn), **self.hub_kwargs())
        return merge_adapters(model, self.raw_peft_paths())

    @staticmethod
    def resize_for(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> bool:
        """Grow the input embeddings to ``len(tokenizer)`` when it exceeds them; return whether it did."""
        rows = model.get_input_embeddings().weight.shape[0]
        if len(tokenizer) <= rows:
            return False
        logger.info("Resizing the input embeddings from %d to %d rows.", rows, len(tokenizer))
        model.resize_token_embeddings(len(tokenizer))
        return True

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, Optional[BiDecoderOnlyEmbedderModel]]:
        """Tokenizer and the training wrapper (None with ``only_merge_lora_model``)."""
        tokenizer = self.load_tokenizer()
        if self.model_args.only_merge_lora_model:
            return tokenizer, None
        base_model = self.load_base_model()
        resized = self.resize_for(base_model, tokenizer)
        training = self.training_args
        model = self.model_class(
            self.wrap_for_training(base_model, resized),
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

    def load_data_collator(self) -> AbsEmbedderCollator:
        """The abstract collators plus an explicit EOS when pooling reads the last token."""
        collator = super().load_data_collator()
        collator.append_eos = self.training_args.sentence_pooling_method == "last_token"
        return collator

    def load_trainer(self) -> Optional[Trainer]:
        """The trainer (None with ``only_merge_lora_model``)."""
        return None if self.model_args.only_merge_lora_model else super().load_trainer()

    def run(self) -> None:
        """Train (and merge if asked), or with ``only_merge_lora_model`` only merge."""
        if self.model_args.only_merge_lora_model:
            self.merge_lora_model()
            return
        super().run()
