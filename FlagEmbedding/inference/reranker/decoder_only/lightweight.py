"""Lightweight LLM reranker (``LightWeightFlagLLMReranker``, bge-reranker-v2.5-gemma2-lightweight)."""
from __future__ import annotations

import logging
from typing import Any, Dict, Sequence, Union

import torch
from transformers import PreTrainedModel

from FlagEmbedding.inference.reranker.decoder_only.layerwise import LayerWiseLLMReranker
from FlagEmbedding.inference.reranker.decoder_only.models import CostWiseGemmaForCausalLM

logger = logging.getLogger(__name__)

DEFAULT_PROMPT = "Predict whether passage B contains an answer to query A."
#: layers before which passage tokens are compressed when ``compress_layers`` is not given (FlagEmbedding 1.4.2's
#: default for bge-reranker-v2.5-gemma2-lightweight)
DEFAULT_COMPRESS_LAYERS = (8,)


class LightweightLLMReranker(LayerWiseLLMReranker):
    """Layer-wise Gemma2 reranker with optional token compression (bundled cost-wise Gemma2 model).

    With ``compress_ratio > 1``, before each layer index in ``compress_layers`` every group of
    ``compress_ratio`` consecutive passage tokens is replaced by its mean, which makes the later layers
    cheaper. The tokenizer pads on the right (compression requires it).

    Args (beyond :class:`LayerWiseLLMReranker`):
        compress_layers: Layer indices before which passage tokens are compressed (default: layer 8).
        compress_ratio: Tokens per compressed group; 1 (default) disables compression.

    By default Gemma2's attention applies its logit soft-cap (eager, the architecture). The original, on the
    transformers version it pins, ran Gemma2 through SDPA, which skips the cap: ``attn_implementation="sdpa"``
    (an option of :class:`BaseLLMReranker`) does the same and reproduces the original's scores.
    """

    call_options = ("prompt", "cutoff_layers", "compress_layers", "compress_layer", "compress_ratio")
    DEFAULT_PROMPT = DEFAULT_PROMPT
    needs_span_lengths = True
    bundled_model_class = CostWiseGemmaForCausalLM

    def __init__(
        self,
        model_name_or_path: str,
        *,
        compress_layers: Union[int, Sequence[int]] = DEFAULT_COMPRESS_LAYERS,
        compress_ratio: int = 1,
        **kwargs: Any,
    ):
        if isinstance(compress_layers, (list, tuple)):
            compress_layers = list(compress_layers)
        super().__init__(model_name_or_path, compress_layers=compress_layers, compress_ratio=compress_ratio, **kwargs)
        self.compress_layers = compress_layers
        self.compress_ratio = compress_ratio

    def load_model(self, dtype: torch.dtype) -> PreTrainedModel:
        """The bundled model; with ``attn_implementation="sdpa"`` its attention soft-cap is dropped, since
        transformers' SDPA kernel cannot apply it (the original's transformers skipped it silently)."""
        model = super().load_model(dtype)
        if self.attn_implementation == "sdpa":
            model.config.attn_logit_softcapping = None
            for module in model.modules():
                if hasattr(module, "attn_logit_softcapping"):
                    setattr(module, "attn_logit_softcapping", None)  # a plain attribute of the attention modules
        return model

    def configure_tokenizer(self) -> None:
        """Pad on the right: compression locates the passage from the start of each row."""
        self.tokenizer.padding_side = "right"

    def resolve_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """Per-call ``compress_layers`` / ``compress_ratio`` (the deprecated ``compress_layer`` wins)."""
        options = super().resolve_options(options)
        if options.get("compress_layer") is not None:
            logger.warning("Try not to use the parameter `compress_layer`; use `compress_layers` instead.")
            options["compress_layers"] = options["compress_layer"]
        options.pop("compress_layer", None)
        if options.get("compress_layers") is None:
            options["compress_layers"] = self.compress_layers
        if options.get("compress_ratio") is None:
            options["compress_ratio"] = self.compress_ratio
        return options

    def model_kwargs(self, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> Dict[str, Any]:
        """Cutoff layers plus the compression settings and the per-row span lengths."""
        return {
            "cutoff_layers": options["cutoff_layers"],
            "compress_layer": options["compress_layers"],
            "compress_ratio": options["compress_ratio"],
            "query_lengths": batch.pop("query_lengths"),
            "prompt_lengths": batch.pop("prompt_lengths"),
            "output_hidden_states": True,
        }
