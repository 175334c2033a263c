"""Runner of decoder-only (LLM) reranker fine-tuning (LoRA through peft, optional merged model)."""
from __future__ import annotations

import logging
from typing import Any, Tuple

from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.common.lora import LoraRunnerMixin, merge_adapters, model_load_kwargs
from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel, AbsRerankerRunner
from FlagEmbedding.finetune.reranker.decoder_only.base.arguments import RerankerModelArguments
from FlagEmbedding.finetune.reranker.decoder_only.base.modeling import CrossDecoderModel
from FlagEmbedding.finetune.reranker.decoder_only.base.trainer import DecoderOnlyRerankerTrainer
from FlagEmbedding.utils.hub import from_pretrained

logger = logging.getLogger(__name__)


def configure_reranker_tokenizer(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Left padding and a pad token: unk, else Qwen-1's ``eod_id`` (then bos/eos = im_start/im_end), else eos."""
    if tokenizer.pad_token is None:
        eod_id = getattr(tokenizer, "eod_id", None)
        if tokenizer.unk_token is not None:
            tokenizer.pad_token = tokenizer.unk_token
        elif eod_id is not None:
            tokenizer.pad_token_id = eod_id
            tokenizer.bos_token_id = getattr(tokenizer, "im_start_id", tokenizer.bos_token_id)
            tokenizer.eos_token_id = getattr(tokenizer, "im_end_id", tokenizer.eos_token_id)
        else:
            tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


class DecoderOnlyRerankerRunner(LoraRunnerMixin, AbsRerankerRunner):
    """Fine-tune a causal LM as a reranker scored by its ``Yes`` logit.

    Model: ``AutoModelForCausalLM`` (``use_cache=False``), each ``raw_peft`` merged, then ``from_peft`` or new
    LoRA adapters (task ``CAUSAL_LM``). After training ``save_merged_lora_model`` writes ``merged_model/``.
    """

    trainer_class = DecoderOnlyRerankerTrainer
    model_class = CrossDecoderModel
    peft_task_type = "CAUSAL_LM"
    model_args: RerankerModelArguments

    def __init__(self, model_args: RerankerModelArguments, data_args: Any, training_args: Any):
        if model_args.model_type == "encoder":
            raise ValueError("model_type: the decoder-only reranker needs the LLM data format; pass --model_type "
                             "decoder (the default 'encoder' builds cross-encoder pairs).")
        super().__init__(model_args=model_args, data_args=data_args, training_args=training_args)

    def hub_kwargs(self) -> dict:
        """Cache / token / remote-code keywords of every ``from_pretrained``."""
        args = self.model_args
        return dict(cache_dir=args.cache_dir, token=args.token, trust_remote_code=args.trust_remote_code)

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Tokenizer (``tokenizer_name`` or the model path), left padding (the data adds no EOS; ``add_eos_token`` is
        not passed because transformers 5 would rebuild the post-processor without BOS)."""
        args = self.model_args
        tokenizer = from_pretrained(AutoTokenizer.from_pretrained, args.tokenizer_name or args.model_name_or_path,
                                    use_fast=args.use_fast_tokenizer, **self.hub_kwargs())
        return configure_reranker_tokenizer(tokenizer)

    def load_config(self) -> object:
        """Config (``config_name`` or the model path) with ``use_cache=False``."""
        args = self.model_args
        config = from_pretrained(AutoConfig.from_pretrained, args.config_name or args.model_name_or_path,
                                 **self.hub_kwargs())
        config.use_cache = False
        return config

    def load_base_model(self) -> PreTrainedModel:
        """``AutoModelForCausalLM`` with every ``raw_peft`` merged."""
        args = self.model_args
        model = from_pretrained(AutoModelForCausalLM.from_pretrained, args.model_name_or_path,
                                config=self.load_config(), **model_load_kwargs(args.use_flash_attn),
                                **self.hub_kwargs())
        return merge_adapters(model, self.raw_peft_paths())

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, AbsRerankerModel]:
        """Tokenizer and the training wrapper around the (LoRA-wrapped) base model."""
        tokenizer = self.load_tokenizer()
        model = self.model_class(
            self.wrap_for_training(self.load_base_model()),
            tokenizer=tokenizer,
            train_batch_size=self.training_args.per_device_train_batch_size,
            train_group_size=self.data_args.train_group_size,
        )
        if self.training_args.gradient_checkpointing:
            model.enable_input_require_grads()
        return tokenizer, model
