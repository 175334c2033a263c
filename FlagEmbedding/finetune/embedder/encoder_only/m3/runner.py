"""Runner of BGE-M3 fine-tuning."""
from __future__ import annotations

import logging
from typing import Any, Dict, Optional, Tuple

import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderRunner
from FlagEmbedding.finetune.embedder.encoder_only.m3.arguments import (
    EncoderOnlyEmbedderM3ModelArguments,
    EncoderOnlyEmbedderM3TrainingArguments,
)
from FlagEmbedding.finetune.embedder.encoder_only.m3.evaluation import M3RetrievalEvaluation
from FlagEmbedding.finetune.embedder.encoder_only.m3.modeling import EncoderOnlyEmbedderM3Model
from FlagEmbedding.finetune.embedder.encoder_only.m3.trainer import EncoderOnlyEmbedderM3Trainer
from FlagEmbedding.inference.embedder.encoder_only.m3_model import M3Model

logger = logging.getLogger(__name__)


class EncoderOnlyEmbedderM3Runner(AbsEmbedderRunner):
    """Fine-tune BGE-M3 (dense only, or unified dense + sparse + ColBERT)."""

    trainer_class = EncoderOnlyEmbedderM3Trainer
    retrieval_evaluation_class = M3RetrievalEvaluation
    model_args: EncoderOnlyEmbedderM3ModelArguments
    training_args: EncoderOnlyEmbedderM3TrainingArguments

    @staticmethod
    def get_model(
        model_name_or_path: str,
        trust_remote_code: bool = False,
        colbert_dim: int = -1,
        cache_dir: Optional[str] = None,
        torch_dtype: Optional[torch.dtype] = None,
        token: Optional[str] = None,
    ) -> Dict[str, nn.Module]:
        """``{'model', 'colbert_linear', 'sparse_linear'}``: the encoder and both heads.

        A hub name is snapshot-downloaded (no flax/rust/tf weights; cache ``cache_dir`` or ``HF_HUB_CACHE``);
        the heads come from ``colbert_linear.pt`` / ``sparse_linear.pt`` when both exist, else are new.
        """
        m3 = M3Model.from_pretrained(model_name_or_path, colbert_dim=colbert_dim, dtype=torch_dtype,
                                     trust_remote_code=trust_remote_code, cache_dir=cache_dir, token=token)
        return {"model": m3.model, "colbert_linear": m3.colbert_linear, "sparse_linear": m3.sparse_linear}

    def model_kwargs(self) -> Dict[str, Any]:
        """The shared keywords without the MRL ones (M3 ignores ``--use_mrl``) plus the unified-fine-tuning ones."""
        training = self.training_args
        kwargs = {k: v for k, v in super().model_kwargs().items() if k not in ("use_mrl", "mrl_dims")}
        return dict(kwargs, unified_finetuning=training.unified_finetuning, use_self_distill=training.use_self_distill,
                    self_distill_start_step=training.self_distill_start_step, unified_heads=training.unified_heads)

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, EncoderOnlyEmbedderM3Model]:
        """Tokenizer (``tokenizer_name`` or the model path), logged config, M3 model; freezing options."""
        args, training = self.model_args, self.training_args
        tokenizer = self.load_tokenizer()
        self.load_config()  # logged only: the M3 checkpoint loader reads its own config
        base_model = self.get_model(args.model_name_or_path, trust_remote_code=args.trust_remote_code,
                                    colbert_dim=args.colbert_dim, cache_dir=args.cache_dir, token=args.token)
        model = EncoderOnlyEmbedderM3Model(base_model, tokenizer=tokenizer, **self.model_kwargs())
        logger.info("Training M3 heads: %s", list(model.heads))
        self.prepare_model(model)
        if training.fix_encoder:
            frozen = 0
            for name, parameter in model.named_parameters():
                if "colbert_linear" not in name and "sparse_linear" not in name:
                    parameter.requires_grad = False
                    frozen += 1
            logger.info("fix_encoder: froze %d encoder tensors; only colbert_linear / sparse_linear train.", frozen)
        return tokenizer, model
