"""MiniCPM layer-wise reranker model (``bge-reranker-v2-minicpm-layerwise``), written for transformers 5.

A Llama-style decoder whose input embeddings are multiplied by ``scale_emb`` and whose residual branches are
scaled by ``scale_depth / sqrt(num_hidden_layers)``; one bias-free ``Linear(hidden, 1)`` head per layer from
``start_layer`` on scores the final-norm state after that many layers.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import PreTrainedModel
from transformers.masking_utils import create_causal_mask
from transformers.models.llama.configuration_llama import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRMSNorm, LlamaRotaryEmbedding

from FlagEmbedding.inference.reranker.decoder_only.models.common import (
    LayerStatesOutput,
    LayerWiseCausalLMOutput,
    LinearHead,
    select_cutoff_layers,
)


@strict
class LayerWiseMiniCPMConfig(LlamaConfig):
    """Llama-style configuration plus MiniCPM's scaling factors and the layer-wise head settings.

    Args (beyond ``LlamaConfig``):
        scale_emb: Multiplier of the input embeddings.
        dim_model_base: Base width (only used by the unsupported vocabulary-size heads).
        scale_depth: Residual branches are scaled by ``scale_depth / sqrt(num_hidden_layers)``.
        start_layer: First layer that has a score head.
        head_multi: One head per layer (the released checkpoint; required).
        head_type: ``"simple"`` (``Linear(hidden, 1)`` heads; required).
    """

    model_type = "minicpm"
    scale_emb: int | float = 1
    dim_model_base: int | float = 1
    scale_depth: int | float = 1
    start_layer: int = 8
    head_multi: bool = True
    head_type: str = "simple"


class MiniCPMDecoderLayer(LlamaDecoderLayer):
    """A Llama decoder layer whose attention and MLP branches are scaled before the residual add."""

    def __init__(self, config: LayerWiseMiniCPMConfig, layer_idx: int):
        super().__init__(config, layer_idx)
        self.residual_scale = config.scale_depth / math.sqrt(config.num_hidden_layers)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: Optional[torch.Tensor] = None,
        position_embeddings: Optional[tuple] = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        branch, _ = self.self_attn(
            hidden_states=self.input_layernorm(hidden_states),
            attention_mask=attention_mask,
            position_embeddings=position_embeddings,
            **kwargs,
        )
        hidden_states = hidden_states + branch * self.residual_scale
        branch = self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states + branch * self.residual_scale


class LayerWiseMiniCPMPreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading rules shared by the MiniCPM classes."""

    config: LayerWiseMiniCPMConfig
    config_class = LayerWiseMiniCPMConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["MiniCPMDecoderLayer"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True


class LayerWiseMiniCPMModel(LayerWiseMiniCPMPreTrainedModel):
    """The MiniCPM decoder; returns the final-norm state after each requested number of layers."""

    def __init__(self, config: LayerWiseMiniCPMConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)
        self.layers = nn.ModuleList(MiniCPMDecoderLayer(config, i) for i in range(config.num_hidden_layers))
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = LlamaRotaryEmbedding(config=config)
        self.gradient_checkpointing = False
        self.post_init()

    def forward(
        self,
        input_ids: Optional[torch.LongTensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        cutoff_layers: Optional[Sequence[int]] = None,
        **kwargs: Any,
    ) -> LayerStatesOutput:
        """Run the decoder up to ``max(cutoff_layers)`` (default: all layers).

        Returns the final-norm state after each of ``cutoff_layers`` layers (ascending, deduplicated).
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids) * self.config.scale_emb
        layers = sorted(set(cutoff_layers)) if cutoff_layers is not None else [self.config.num_hidden_layers]
        if position_ids is None:
            position_ids = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device).unsqueeze(0)
        causal_mask = create_causal_mask(
            config=self.config, inputs_embeds=inputs_embeds, attention_mask=attention_mask,
            cache=None, position_ids=position_ids,
        )
        position_embeddings = self.rotary_emb(inputs_embeds, position_ids=position_ids)
        hidden_states = inputs_embeds
        states = [self.norm(hidden_states)] if 0 in layers else []
        for index, layer in enumerate(self.layers[: layers[-1]]):
            hidden_states = layer(
                hidden_states, attention_mask=causal_mask, position_embeddings=position_embeddings,
                position_ids=position_ids, **kwargs,
            )
            if index + 1 in layers:
                states.append(self.norm(hidden_states))
        return LayerStatesOutput(hidden_states=tuple(states))


class LayerWiseMiniCPMForCausalLM(LayerWiseMiniCPMPreTrainedModel):
    """MiniCPM with one score head per layer from ``start_layer`` to ``num_hidden_layers``.

    ``lm_head.{k}.linear_head.weight`` scores layer ``start_layer + k``.
    """

    def __init__(self, config: LayerWiseMiniCPMConfig):
        super().__init__(config)
        if not config.head_multi or config.head_type != "simple":
            raise NotImplementedError(
                "Only layer-wise MiniCPM checkpoints with head_multi=True and head_type='simple' (the released "
                f"bge-reranker-v2-minicpm-layerwise) are supported; got head_multi={config.head_multi}, "
                f"head_type={config.head_type!r}."
            )
        self.model = LayerWiseMiniCPMModel(config)
        self.lm_head = nn.ModuleList(
            LinearHead(config.hidden_size) for _ in range(config.num_hidden_layers - config.start_layer + 1)
        )
        self.post_init()

    @property
    def valid_layers(self) -> range:
        """Layers that have a head: ``start_layer .. num_hidden_layers``."""
        return range(self.config.start_layer, self.config.num_hidden_layers + 1)

    def forward(
        self,
        input_ids: Optional[torch.LongTensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.LongTensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        cutoff_layers: Union[None, int, Sequence[int]] = None,
        output_hidden_states: bool = False,
        **kwargs: Any,
    ) -> LayerWiseCausalLMOutput:
        """Score logits ``[batch, seq]`` (fp32) for each requested layer, in ascending layer order.

        ``cutoff_layers`` (default: the last layer) is sorted and deduplicated; layers without a head are
        dropped with a warning, and ``ValueError`` is raised when none remain.
        """
        layers = select_cutoff_layers(cutoff_layers, self.valid_layers, self.config.num_hidden_layers)
        outputs = self.model(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            inputs_embeds=inputs_embeds, cutoff_layers=layers, **kwargs,
        )
        logits = tuple(
            self.lm_head[layer - self.config.start_layer](state).float()
            for layer, state in zip(layers, outputs.hidden_states)
        )
        return LayerWiseCausalLMOutput(
            logits=logits, hidden_states=outputs.hidden_states if output_hidden_states else None
        )
