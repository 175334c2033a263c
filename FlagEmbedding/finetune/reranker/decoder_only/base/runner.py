"""Runner of decoder-only (LLM) reranker fine-tuning (LoRA through peft, optional merged model)."""
from __future__ import annotations

import logging
from typing import Any, Tuple, Type

from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from FlagEmbedding.finetune.common.lora import LoraRunnerMixin
from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel, AbsRerankerRunner
from FlagEmbedding.finetune.reranker.decoder_only.base.arguments import RerankerModelArguments
from FlagEmbedding.finetune.reranker.decoder_only.base.modeling import CrossDecoderModel
from FlagEmbedding.finetune.reranker.decoder_only.base.trainer import DecoderOnlyRerankerTrainer
from FlagEmbedding.utils.errors import InputError

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
    model_class: Type[AbsRerankerModel] = CrossDecoderModel
    auto_model_class = AutoModelForCausalLM
    peft_task_type = "CAUSAL_LM"
    model_args: RerankerModelArguments

    def __init__(self, model_args: RerankerModelArguments, data_args: Any, training_args: Any):
        if model_args.model_type == "encoder":
            raise InputError("model_type: the decoder-only reranker needs the LLM data format; pass --model_type "
                             "decoder (the default 'encoder' builds cross-encoder pairs).")
        super().__init__(model_args=model_args, data_args=data_args, training_args=training_args)

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Tokenizer (``tokenizer_name`` or the model path), left padding (the data adds no EOS; ``add_eos_token`` is
        not passed because transformers 5 would rebuild the post-processor without BOS)."""
        return configure_reranker_tokenizer(super().load_tokenizer())

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, AbsRerankerModel]:
        """Tokenizer and the training wrapper around the (LoRA-wrapped) base model."""
        tokenizer = self.load_tokenizer()
        model = self.model_class(
            self.wrap_for_training(self.load_base_model()),
            tokenizer=tokenizer,
            train_batch_size=self.training_args.per_device_train_batch_size,
            train_group_size=self.data_args.train_group_size,
        )
        self.prepare_model(model)  # returns ``model`` itself
        return tokenizer, model
