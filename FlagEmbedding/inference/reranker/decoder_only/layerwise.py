"""Layer-wise LLM reranker (``LayerWiseFlagLLMReranker``, bge-reranker-v2-minicpm-layerwise)."""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Tuple, Type, Union

import torch
from transformers import AutoModelForCausalLM, PreTrainedConfig, PreTrainedModel

from FlagEmbedding.inference.reranker.decoder_only.base import BaseLLMReranker
from FlagEmbedding.inference.reranker.decoder_only.models import LayerWiseMiniCPMForCausalLM
from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.pooling import last_token_indices

CutoffLayers = Union[None, int, List[int]]

PRECISION_WARNING = (
    "Due to model constraints, `use_bf16` and `use_fp16` cannot both be `False`. Here, `use_fp16` is set to "
    "`True` by default."
)


class LayerWiseLLMReranker(BaseLLMReranker):
    """LLM reranker that scores pairs with per-layer heads of the bundled layer-wise MiniCPM model.

    The sequence is built as in :class:`BaseLLMReranker` except that BOS is always prepended. Each layer in
    ``cutoff_layers`` (default: the last) yields one score per pair; several layers give one list per layer,
    ascending. ``use_fp16`` is forced on when neither half precision is requested (the CPU still computes
    in fp32).

    Args (beyond :class:`BaseLLMReranker`):
        cutoff_layers: Layer number(s) whose heads score the pairs (sorted and deduplicated).
    """

    call_options: Tuple[str, ...] = ("prompt", "cutoff_layers")
    ALWAYS_BOS = True
    #: the bundled class used when the checkpoint's ``model_type`` matches; anything else loads via Auto
    bundled_model_class: Type[PreTrainedModel] = LayerWiseMiniCPMForCausalLM

    def __init__(self, model_name_or_path: str, *, cutoff_layers: CutoffLayers = None, **kwargs: Any):
        super().__init__(model_name_or_path, cutoff_layers=cutoff_layers, **kwargs)
        self.cutoff_layers = cutoff_layers

    def check_precision(self) -> None:
        """Warn and turn ``use_fp16`` on when neither ``use_fp16`` nor ``use_bf16`` is set."""
        if not self.use_fp16 and not self.use_bf16:
            warnings.warn(PRECISION_WARNING, UserWarning, stacklevel=3)
            self.use_fp16 = True

    def load_model(self, dtype: torch.dtype) -> PreTrainedModel:
        """The bundled class for its ``model_type``; other checkpoints go through ``AutoModelForCausalLM``."""
        config, _ = from_pretrained(PreTrainedConfig.get_config_dict, self.model_name_or_path, cache_dir=self.cache_dir)
        bundled = self.bundled_model_class
        assert bundled.config_class is not None  # the bundled classes declare theirs
        loader = (
            bundled.from_pretrained
            if config.get("model_type") == bundled.config_class.model_type
            else AutoModelForCausalLM.from_pretrained
        )
        return from_pretrained(
            loader, self.model_name_or_path, dtype=dtype, cache_dir=self.cache_dir,
            trust_remote_code=self.trust_remote_code, **self.load_kwargs(),
        )

    def resolve_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """Per-call ``prompt`` and ``cutoff_layers`` (default: the instance values)."""
        options = super().resolve_options(options)
        if options.get("cutoff_layers") is None:
            options["cutoff_layers"] = self.cutoff_layers
        return options

    def model_kwargs(self, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> Dict[str, Any]:
        """Keyword arguments of the forward pass beyond the padded batch."""
        return {"cutoff_layers": options["cutoff_layers"], "output_hidden_states": True}

    def score_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> torch.Tensor:
        """``[batch, layers]`` scores: each layer's logit at the last real token of its attention mask."""
        extra = self.model_kwargs(batch, options)
        outputs = model(**batch, **extra)
        masks = getattr(outputs, "attention_masks", None) or [batch["attention_mask"]] * len(outputs.logits)
        columns = []
        for logits, mask in zip(outputs.logits, masks):
            rows = torch.arange(logits.shape[0], device=logits.device)
            columns.append(logits[rows, last_token_indices(mask)].float())
        return torch.stack(columns, dim=1)
