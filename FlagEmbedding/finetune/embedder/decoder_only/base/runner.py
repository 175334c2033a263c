"""Runner of decoder-only embedder fine-tuning (LoRA through peft, optional merged model)."""
from __future__ import annotations

import logging
from typing import Optional, Tuple

from transformers import AutoModel, PreTrainedModel, PreTrainedTokenizerBase, Trainer

from FlagEmbedding.finetune.common.lora import LoraRunnerMixin, input_embedding_rows
from FlagEmbedding.finetune.common.tokenizer import configure_decoder_tokenizer
from FlagEmbedding.abc.finetune.embedder import AbsEmbedderCollator, AbsEmbedderRunner
from FlagEmbedding.finetune.embedder.decoder_only.base.arguments import DecoderOnlyEmbedderModelArguments
from FlagEmbedding.finetune.embedder.decoder_only.base.dataset import (
    DecoderOnlyEmbedderCollator,
    DecoderOnlyEmbedderSameDatasetCollator,
    EosCollatorMixin,
)
from FlagEmbedding.finetune.embedder.decoder_only.base.modeling import BiDecoderOnlyEmbedderModel
from FlagEmbedding.finetune.embedder.decoder_only.base.trainer import DecoderOnlyEmbedderTrainer

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
    auto_model_class = AutoModel
    peft_task_type = "FEATURE_EXTRACTION"
    model_args: DecoderOnlyEmbedderModelArguments

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Tokenizer with left padding, a pad token and the additional special tokens.

        ``add_eos_token`` is not passed: transformers 5 then rebuilds the post-processor and drops BOS for
        Llama/Gemma-style tokenizers; the collator appends EOS explicitly instead.
        """
        args = self.model_args
        tokenizer = configure_decoder_tokenizer(super().load_tokenizer(), use_eod_id=False)
        if args.additional_special_tokens:
            added = tokenizer.add_special_tokens({"additional_special_tokens": list(args.additional_special_tokens)},
                                                 replace_extra_special_tokens=False)
            logger.info("Added %d special tokens %s.", added, args.additional_special_tokens)
        return tokenizer

    @staticmethod
    def resize_for(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> bool:
        """Grow the input embeddings to ``len(tokenizer)`` when it exceeds them; return whether it did."""
        rows = input_embedding_rows(model)
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
        model = self.model_class(self.wrap_for_training(base_model, resized), tokenizer=tokenizer,
                                 **self.model_kwargs())
        self.prepare_model(model)  # returns ``model`` itself
        return tokenizer, model

    def load_data_collator(self) -> AbsEmbedderCollator:
        """The abstract collators plus an explicit EOS when pooling reads the last token."""
        collator = super().load_data_collator()
        if isinstance(collator, EosCollatorMixin):  # both collator classes of this runner are
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
