"""Gemma2 cost-wise reranker model (``bge-reranker-v2.5-gemma2-lightweight``), written for transformers 5.

The standard Gemma2 decoder (its layers are reused from transformers) with one bias-free ``Linear(hidden, 1)``
head per layer in ``range(start_layer, num_hidden_layers + 1, layer_sep)`` and optional *token compression*:
before the layers listed in ``compress_layer``, every group of ``compress_ratio`` consecutive passage tokens
is replaced by its mean, which shortens the sequence for the remaining layers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Sequence, Tuple, Union, cast

import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask
from transformers.models.gemma2.configuration_gemma2 import Gemma2Config
from transformers.models.gemma2.modeling_gemma2 import Gemma2Model, Gemma2PreTrainedModel

from FlagEmbedding.inference.reranker.decoder_only.models.common import (
    LayerStatesOutput,
    LayerWiseCausalLMOutput,
    LinearHead,
    select_cutoff_layers,
)

LengthsArg = Union[Sequence[int], torch.Tensor]


@strict
class CostWiseGemmaConfig(Gemma2Config):
    """Gemma2 configuration plus the layer-wise head settings.

    Args (beyond ``Gemma2Config``):
        start_layer: First layer that has a score head.
        layer_sep: Step between layers that have a head.
        layer_wise: One ``Linear(hidden, 1)`` head per such layer (the released checkpoint; required).
    """

    model_type = "cost_wise_gemma"
    start_layer: int = 28
    layer_sep: int = 1
    layer_wise: bool = True


def check_compression(
    compress_layer: Union[None, int, Sequence[int]], compress_ratio: Optional[int], num_layers: int
) -> Tuple[List[int], int]:
    """Normalize and check the compression arguments; returns ``(layers, ratio)``.

    Ratio 1 turns compression off; the layers are then ignored (and not checked).
    """
    ratio = 1 if compress_ratio is None else compress_ratio
    if isinstance(ratio, bool) or not isinstance(ratio, int) or ratio < 1:
        raise ValueError(f"`compress_ratio` must be an integer >= 1 (1 = no compression), got {compress_ratio!r}.")
    if compress_layer is None or ratio == 1:
        layers: List[int] = []
    elif isinstance(compress_layer, int) and not isinstance(compress_layer, bool):
        layers = [compress_layer]
    else:  # a sequence of layer indices (a bool raises TypeError here)
        layers = list(cast(Iterable[int], compress_layer))
    bad = [layer for layer in layers if isinstance(layer, bool) or not isinstance(layer, int)
           or not 0 <= layer < num_layers]
    if bad:
        raise ValueError(
            f"`compress_layers` must be layer indices in [0, {num_layers - 1}], got {bad} in {list(layers)}."
        )
    return sorted(set(layers)), ratio


def compress_passage_tokens(
    hidden_states: torch.Tensor,
    attention_mask: torch.Tensor,
    query_lengths: LengthsArg,
    prompt_lengths: LengthsArg,
    ratio: int,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean-pool each group of ``ratio`` consecutive passage tokens of every right-padded row.

    Row ``i``'s passage spans ``[query_lengths[i], valid_i - prompt_lengths[i])``; query and prompt tokens are
    kept. Returns the new right-padded states and their attention mask.
    """
    mask = attention_mask.bool()
    valid = mask.sum(dim=1)
    positions = torch.arange(mask.shape[1], device=mask.device)
    if not torch.equal(mask, positions.unsqueeze(0) < valid.unsqueeze(1)):
        raise ValueError(
            "You must use right padding when compressing tokens (set `tokenizer.padding_side = 'right'`)."
        )
    rows = []
    for row, (query_length, prompt_length, length) in enumerate(
        zip(torch.as_tensor(query_lengths).tolist(), torch.as_tensor(prompt_lengths).tolist(), valid.tolist())
    ):
        end = length - prompt_length
        passage = hidden_states[row, query_length:end]
        n_tokens = passage.shape[0]
        pieces = [hidden_states[row, :query_length]]
        if n_tokens > 0:
            groups = torch.arange(n_tokens, device=passage.device) // ratio
            n_groups = (n_tokens + ratio - 1) // ratio
            sums = passage.new_zeros(n_groups, passage.shape[1], dtype=torch.float32)
            sums.index_add_(0, groups, passage.float())
            counts = torch.bincount(groups, minlength=n_groups).unsqueeze(1).to(torch.float32)
            pieces.append((sums / counts).to(hidden_states.dtype))
        pieces.append(hidden_states[row, max(end, query_length):length])
        rows.append(torch.cat(pieces, dim=0))
    new_length = max(r.shape[0] for r in rows)
    new_states = hidden_states.new_zeros(len(rows), new_length, hidden_states.shape[2])
    new_mask = attention_mask.new_zeros(len(rows), new_length)
    for row, states in enumerate(rows):
        new_states[row, : states.shape[0]] = states
        new_mask[row, : states.shape[0]] = 1
    return new_states, new_mask


if TYPE_CHECKING:  # the mixin's classes are Gemma2 models (its super() call reaches theirs)
    _EagerBase = Gemma2PreTrainedModel
else:
    _EagerBase = object


class EagerByDefault(_EagerBase):
    """Gemma2 attention is eager (with its logit soft-cap) unless ``attn_implementation`` asks for another one;
    ``"sdpa"`` skips the soft-cap, which is how the original computed the released checkpoint's scores."""

    _supports_sdpa = True

    def get_correct_attn_implementation(self, requested_attention: Optional[str], is_init_check: bool = False) -> str:
        """``requested_attention``, or ``"eager"`` when none was requested (transformers would pick SDPA)."""
        return super().get_correct_attn_implementation(requested_attention or "eager", is_init_check)


class CostWiseGemmaModel(EagerByDefault, Gemma2Model):
    """The Gemma2 decoder returning the final-norm state (and its mask) after each requested layer count."""

    config_class = CostWiseGemmaConfig

    def _layer_inputs(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor
    ) -> Tuple[torch.Tensor, dict, Tuple[torch.Tensor, torch.Tensor]]:
        """Position ids ``0..L-1``, the full and sliding-window causal masks, and rotary embeddings."""
        position_ids = torch.arange(hidden_states.shape[1], device=hidden_states.device).unsqueeze(0)
        mask_kwargs = dict(
            config=self.config, inputs_embeds=hidden_states, attention_mask=attention_mask,
            cache=None, position_ids=position_ids,
        )
        masks = {
            "full_attention": create_causal_mask(**mask_kwargs),
            "sliding_attention": create_sliding_window_causal_mask(**mask_kwargs),
        }
        return position_ids, masks, self.rotary_emb(hidden_states, position_ids)

    def forward(
        self,
        input_ids: Optional[torch.LongTensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        cutoff_layers: Optional[Sequence[int]] = None,
        compress_layer: Optional[Sequence[int]] = None,
        compress_ratio: int = 1,
        query_lengths: Optional[LengthsArg] = None,
        prompt_lengths: Optional[LengthsArg] = None,
        **kwargs: Any,
    ) -> LayerStatesOutput:
        """Run the decoder up to ``max(cutoff_layers)`` (default: all layers), compressing if asked.

        The state after each of ``cutoff_layers`` layers is recorded (final norm applied) together with the
        attention mask in force at that point; recording at a layer index happens before compressing there.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        if attention_mask is None:
            attention_mask = torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        layers = sorted(set(cutoff_layers)) if cutoff_layers is not None else [self.config.num_hidden_layers]
        compress_at, ratio = check_compression(compress_layer, compress_ratio, self.config.num_hidden_layers)
        compress_at = [layer for layer in compress_at if layer != 0]
        if compress_at and (query_lengths is None or prompt_lengths is None):
            raise ValueError("Token compression needs `query_lengths` and `prompt_lengths`.")

        hidden_states = inputs_embeds
        position_ids, masks, position_embeddings = self._layer_inputs(hidden_states, attention_mask)
        states: List[torch.Tensor] = []
        state_masks: List[torch.Tensor] = []
        assert self.config.layer_types is not None  # Gemma2Config fills it in
        for index in range(layers[-1]):
            if index in layers:
                states.append(self.norm(hidden_states))
                state_masks.append(attention_mask)
            if index in compress_at:
                assert query_lengths is not None and prompt_lengths is not None  # checked above
                hidden_states, attention_mask = compress_passage_tokens(
                    hidden_states, attention_mask, query_lengths, prompt_lengths, ratio
                )
                position_ids, masks, position_embeddings = self._layer_inputs(hidden_states, attention_mask)
            hidden_states = self.layers[index](
                hidden_states,
                attention_mask=masks[self.config.layer_types[index]],
                position_embeddings=position_embeddings,
                position_ids=position_ids,
                **kwargs,
            )
        states.append(self.norm(hidden_states))
        state_masks.append(attention_mask)
        return LayerStatesOutput(hidden_states=tuple(states), attention_masks=tuple(state_masks))


class CostWiseGemmaForCausalLM(EagerByDefault, Gemma2PreTrainedModel):
    """Gemma2 with one score head per layer in ``range(start_layer, num_hidden_layers + 1, layer_sep)``.

    The k-th selected layer (ascending) is scored by head ``k`` (``lm_head.{k}.linear_head.weight``), as the
    released checkpoint was trained; the logits are soft-capped by ``final_logit_softcapping``.
    """

    config_class = CostWiseGemmaConfig

    def __init__(self, config: CostWiseGemmaConfig):
        super().__init__(config)
        if not config.layer_wise:
            raise NotImplementedError(
                "Only layer-wise cost-wise Gemma checkpoints (layer_wise=True, the released "
                "bge-reranker-v2.5-gemma2-lightweight) are supported."
            )
        self.model = CostWiseGemmaModel(config)
        self.lm_head = nn.ModuleList(LinearHead(config.hidden_size) for _ in self.valid_layers)
        self.post_init()

    @property
    def valid_layers(self) -> range:
        """Layers that have a head."""
        return range(self.config.start_layer, self.config.num_hidden_layers + 1, self.config.layer_sep)

    def forward(
        self,
        input_ids: Optional[torch.LongTensor] = None,
        attention_mask: Optional[torch.Tensor] = None,
        inputs_embeds: Optional[torch.Tensor] = None,
        cutoff_layers: Union[None, int, Sequence[int]] = None,
        compress_layer: Union[None, int, Sequence[int]] = None,
        compress_ratio: Optional[int] = None,
        query_lengths: Optional[LengthsArg] = None,
        prompt_lengths: Optional[LengthsArg] = None,
        output_hidden_states: bool = False,
        **kwargs: Any,
    ) -> LayerWiseCausalLMOutput:
        """Soft-capped score logits ``[batch, seq]`` (fp32) and masks per requested layer (ascending).

        Raises:
            ValueError: No requested layer has a head, ``compress_ratio < 1``, a compress layer is out of
                range, or compression is asked for with left padding.
        """
        layers = select_cutoff_layers(cutoff_layers, self.valid_layers, self.config.num_hidden_layers)
        outputs = self.model(
            input_ids=input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds,
            cutoff_layers=layers, compress_layer=compress_layer, compress_ratio=compress_ratio,
            query_lengths=query_lengths, prompt_lengths=prompt_lengths, **kwargs,
        )
        cap = self.config.final_logit_softcapping
        logits = []
        for head, state in zip(self.lm_head, outputs.hidden_states):
            scores = head(state).float()
            logits.append(cap * torch.tanh(scores / cap) if cap else scores)
        return LayerWiseCausalLMOutput(
            logits=tuple(logits),
            attention_masks=outputs.attention_masks,
            hidden_states=outputs.hidden_states if output_hidden_states else None,
        )
