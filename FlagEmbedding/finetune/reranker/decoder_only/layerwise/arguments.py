"""Arguments of layer-wise LLM reranker fine-tuning."""
from __future__ import annotations

from dataclasses import dataclass, field

from FlagEmbedding.finetune.reranker.decoder_only.base.arguments import DecoderOnlyRerankerModelArguments
from FlagEmbedding.utils.errors import InputError

#: ``model_type`` values: start from a plain causal LM (new per-layer heads) or a layer-wise checkpoint.
LAYERWISE_MODEL_TYPES = ("from_raw_model", "from_finetuned_model")


@dataclass
class DecoderOnlyRerankerLayerWiseModelArguments(DecoderOnlyRerankerModelArguments):
    """Decoder reranker arguments plus the layer-wise head settings.

    ``model_type`` is checked after parsing (not by argparse ``choices``), so a command may pass
    ``--model_type decoder`` and later ``--model_type from_finetuned_model``: the last value counts.
    """

    model_type: str = field(
        default="from_raw_model",
        metadata={"help": "from_raw_model (new heads from the LM head's 'Yes' row) or from_finetuned_model."},
    )
    start_layer: int = field(default=8, metadata={"help": "First layer with a score head (from_raw_model)."})
    head_multi: bool = field(default=False, metadata={"help": "One head per layer (from_raw_model)."})
    head_type: str = field(default="simple", metadata={"help": "Head type: simple (1 output) (from_raw_model)."})

    def __post_init__(self) -> None:
        if self.model_type not in LAYERWISE_MODEL_TYPES:
            raise InputError(f"model_type must be one of {list(LAYERWISE_MODEL_TYPES)} for the layer-wise reranker, "
                             f"got {self.model_type!r}.")


#: FlagEmbedding 1.4.2's name of this class at this path
RerankerModelArguments = DecoderOnlyRerankerLayerWiseModelArguments
