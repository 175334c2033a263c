"""Runner of the encoder-only embedder."""
from __future__ import annotations

from typing import Tuple

from transformers import AutoModel, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderModel, AbsEmbedderRunner
from FlagEmbedding.finetune.embedder.encoder_only.base.modeling import BiEncoderOnlyEmbedderModel
from FlagEmbedding.finetune.embedder.encoder_only.base.trainer import EncoderOnlyEmbedderTrainer
from FlagEmbedding.utils.hub import from_pretrained


class EncoderOnlyEmbedderRunner(AbsEmbedderRunner):
    """Fine-tune an HF encoder (BERT, XLM-R, ...) as a dense embedder."""

    trainer_class = EncoderOnlyEmbedderTrainer

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, AbsEmbedderModel]:
        """Tokenizer (``tokenizer_name`` or the model path), config (``config_name`` or the model path), model."""
        args = self.model_args
        tokenizer = self.load_tokenizer()
        base_model = from_pretrained(AutoModel.from_pretrained, args.model_name_or_path, config=self.load_config(),
                                     **self.hub_kwargs())
        model = BiEncoderOnlyEmbedderModel(base_model, tokenizer=tokenizer, **self.model_kwargs())
        self.prepare_model(model)  # returns ``model`` itself
        return tokenizer, model
