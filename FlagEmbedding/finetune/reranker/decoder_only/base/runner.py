"""Runner of decoder-only (LLM) reranker fine-tuning (LoRA through peft, optional merged model)."""
from __future__ import annotations

import logging
from typing import Any, Tuple, Type

from transformers import AutoModelForCausalLM, PreTrainedTokenizerBase

from FlagEmbedding.finetune.common.lora import LoraRunnerMixin
from FlagEmbedding.finetune.common.tokenizer import configure_decoder_tokenizer
from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel, AbsRerankerRunner
from FlagEmbedding.finetune.reranker.decoder_only.base.arguments import DecoderOnlyRerankerModelArguments
from FlagEmbedding.finetune.reranker.decoder_only.base.modeling import DecoderOnlyRerankerModel
from FlagEmbedding.finetune.reranker.decoder_only.base.trainer import DecoderOnlyRerankerTrainer
from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)


#: the reranker's tokenizer setup (pad = unk, else Qwen-1's ``eod_id``, else eos; left padding)
configure_reranker_tokenizer = configure_decoder_tokenizer


class DecoderOnlyRerankerRunner(LoraRunnerMixin, AbsRerankerRunner):
    """Fine-tune a causal LM as a reranker scored by its ``Yes`` logit.

    Model: ``AutoModelForCausalLM`` (``use_cache=False``), each ``raw_peft`` merged, then ``from_peft`` or new
    LoRA adapters (task ``CAUSAL_LM``). After training ``save_merged_lora_model`` writes ``merged_model/``.
    """

    trainer_class = DecoderOnlyRerankerTrainer
    model_class: Type[AbsRerankerModel] = DecoderOnlyRerankerModel
    auto_model_class = AutoModelForCausalLM
    peft_task_type = "CAUSAL_LM"
    model_args: DecoderOnlyRerankerModelArguments

    def __init__(self, model_args: DecoderOnlyRerankerModelArguments, data_args: Any, training_args: Any):
        if model_args.model_type == "encoder":
            raise InputError("model_type: the decoder-only reranker needs the LLM data format; pass --model_type "
                             "decoder (the default 'encoder' builds cross-encoder pairs).")
        super().__init__(model_args=model_args, data_args=data_args, training_args=training_args)

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Tokenizer (``tokenizer_name`` or the model path), left padding (the data adds no EOS; ``add_eos_token`` is
        not passed because transformers 5 would rebuild the post-processor without BOS)."""
        return configure_decoder_tokenizer(super().load_tokenizer())

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
