"""Runner of layer-wise LLM reranker fine-tuning (bundled MiniCPM layer-wise model)."""
from __future__ import annotations

import glob
import logging
import os
from typing import Optional, Tuple, Type

import torch
from transformers import AutoModelForCausalLM, PreTrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from FlagEmbedding.finetune.common.lora import merge_adapters, model_load_kwargs
from FlagEmbedding.abc.finetune.reranker import AbsRerankerModel
from FlagEmbedding.finetune.reranker.decoder_only.base.runner import (
    DecoderOnlyRerankerRunner as BaseDecoderOnlyRerankerRunner,
)
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.arguments import DecoderOnlyRerankerLayerWiseModelArguments
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.modeling import DecoderOnlyRerankerLayerWiseModel
from FlagEmbedding.finetune.reranker.decoder_only.layerwise.trainer import DecoderOnlyRerankerLayerWiseTrainer
from FlagEmbedding.inference.reranker.decoder_only.models import LayerWiseMiniCPMConfig, LayerWiseMiniCPMForCausalLM
from FlagEmbedding.utils.hub import from_pretrained, model_not_found, offline_if_unreachable
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.reranker_inputs import yes_token_id

logger = logging.getLogger(__name__)
LM_HEAD_KEY = "lm_head.weight"


def checkpoint_folder(name_or_path: str, cache_dir: Optional[str], token: Optional[str]) -> str:
    """Local folder of a checkpoint (hub names: the cached weight files, downloaded if needed)."""
    if os.path.isdir(name_or_path):
        return name_or_path
    from huggingface_hub import snapshot_download

    offline_if_unreachable()
    try:
        return snapshot_download(repo_id=name_or_path, cache_dir=cache_dir or os.environ.get("HF_HUB_CACHE"),
                                 token=token, allow_patterns=["*.safetensors", "*.bin", "*.json"])
    except Exception as error:  # noqa: BLE001 - every hub failure gets the same explanation
        raise model_not_found(name_or_path) from error


def read_lm_head_row(folder: str, row: int) -> torch.Tensor:
    """Row ``row`` of ``lm_head.weight`` from the checkpoint files in ``folder`` (safetensors or ``.bin``).

    Raises:
        ValueError: No weight file in ``folder`` holds ``lm_head.weight``.
    """
    from safetensors import safe_open

    for path in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
        with safe_open(path, framework="pt") as handle:
            if LM_HEAD_KEY in handle.keys():
                return handle.get_slice(LM_HEAD_KEY)[row]
    for path in sorted(glob.glob(os.path.join(folder, "*.bin"))):
        state = torch.load(path, map_location="cpu", weights_only=True)
        if LM_HEAD_KEY in state:
            return state[LM_HEAD_KEY][row]
    raise InputError(f"model_type from_raw_model: no {LM_HEAD_KEY} in the weight files of {folder}; pass a raw "
                     "causal LM checkpoint, or --model_type from_finetuned_model for a layer-wise one.")


class DecoderOnlyRerankerLayerWiseRunner(BaseDecoderOnlyRerankerRunner):
    """Fine-tune a layer-wise reranker; every layer from ``start_layer`` on is trained through its own head.

    ``from_raw_model``: a plain MiniCPM causal LM gets one ``Linear(hidden, 1)`` head per layer
    ``start_layer..num_hidden_layers``, each initialized from the LM head's ``Yes`` row (the bundled model
    supports ``--head_multi True --head_type simple`` only). ``from_finetuned_model``: the checkpoint as saved.
    Then ``raw_peft`` / LoRA as for the decoder reranker; merging rebuilds the same way (no hub config fetch).
    """

    trainer_class = DecoderOnlyRerankerLayerWiseTrainer
    model_class: Type[DecoderOnlyRerankerLayerWiseModel] = DecoderOnlyRerankerLayerWiseModel
    #: the bundled model does not generate, so adapters use peft's plain feature-extraction wrapper
    peft_task_type = "FEATURE_EXTRACTION"
    model_args: DecoderOnlyRerankerLayerWiseModelArguments

    def load_base_model(self) -> PreTrainedModel:
        """The layer-wise model (bundled class for MiniCPM checkpoints) with ``raw_peft`` merged."""
        args = self.model_args
        config_path = args.config_name or args.model_name_or_path
        config_dict, _ = from_pretrained(PreTrainedConfig.get_config_dict, config_path, cache_dir=args.cache_dir,
                                         token=args.token)
        bundled = config_dict.get("model_type") == LayerWiseMiniCPMConfig.model_type
        raw = args.model_type == "from_raw_model"
        if raw and not bundled:
            raise NotImplementedError(f"model_type from_raw_model needs a MiniCPM checkpoint (config model_type "
                                      f"'minicpm'), got {config_dict.get('model_type')!r}.")
        kwargs = dict(**model_load_kwargs(args.use_flash_attn), **self.hub_kwargs())
        if not bundled:
            return merge_adapters(from_pretrained(AutoModelForCausalLM.from_pretrained, args.model_name_or_path,
                                                  config=self.load_config(), **kwargs), self.raw_peft_paths())
        config = from_pretrained(LayerWiseMiniCPMConfig.from_pretrained, config_path, cache_dir=args.cache_dir,
                                 token=args.token)
        config.use_cache = False
        if raw:
            self.set_head_config(config)
        model = from_pretrained(LayerWiseMiniCPMForCausalLM.from_pretrained, args.model_name_or_path,
                                config=config, **kwargs)
        if raw:
            self.init_heads_from_yes_row(model)
        return merge_adapters(model, self.raw_peft_paths())

    def set_head_config(self, config: LayerWiseMiniCPMConfig) -> None:
        """Put ``start_layer`` / ``head_multi`` / ``head_type`` into a raw model's config."""
        args = self.model_args
        if not args.head_multi or args.head_type != "simple":
            raise NotImplementedError(
                "The bundled layer-wise MiniCPM model has one Linear(hidden, 1) head per layer: pass --head_multi True "
                f"--head_type simple (got head_multi={args.head_multi}, head_type={args.head_type!r})."
            )
        if not 0 <= args.start_layer <= config.num_hidden_layers:
            raise InputError(f"start_layer must be in [0, {config.num_hidden_layers}], got {args.start_layer}.")
        config.start_layer, config.head_multi, config.head_type = args.start_layer, True, "simple"

    def init_heads_from_yes_row(self, model: LayerWiseMiniCPMForCausalLM) -> None:
        """Copy the raw LM head's ``Yes`` row (the input embedding's when tied) into every per-layer head."""
        args = self.model_args
        yes = yes_token_id(self.tokenizer_for_heads())
        if getattr(model.config, "tie_word_embeddings", False):
            weight = model.get_input_embeddings().weight
            assert isinstance(weight, torch.Tensor)  # an embedding module's weight is a parameter
            row = weight[yes].detach()
        else:
            row = read_lm_head_row(checkpoint_folder(args.model_name_or_path, args.cache_dir, args.token), yes)
        with torch.no_grad():
            for head in model.lm_head:
                head.linear_head.weight.copy_(row.to(head.linear_head.weight.dtype).view(1, -1))
        logger.info("Initialized %d per-layer heads from the 'Yes' row (id %d).", len(model.lm_head), yes)

    def tokenizer_for_heads(self) -> PreTrainedTokenizerBase:
        """The run's tokenizer (loaded on demand when merging)."""
        return getattr(self, "tokenizer", None) or self.load_tokenizer()

    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, AbsRerankerModel]:
        """Tokenizer and the layer-wise training wrapper."""
        self.tokenizer = self.load_tokenizer()
        base_model = self.load_base_model()
        model = self.model_class(
            self.wrap_for_training(base_model),
            tokenizer=self.tokenizer,
            train_batch_size=self.training_args.per_device_train_batch_size,
            start_layer=base_model.config.start_layer,
            train_group_size=self.data_args.train_group_size,
        )
        self.prepare_model(model)  # returns ``model`` itself
        return self.tokenizer, model


#: FlagEmbedding 1.4.2's name of this class at this path
DecoderOnlyRerankerRunner = DecoderOnlyRerankerLayerWiseRunner
