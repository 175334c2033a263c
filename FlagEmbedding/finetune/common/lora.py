"""LoRA (peft) plumbing shared by the decoder-only fine-tuning kinds (embedders and rerankers).

Arguments, applying/merging adapters, the saved input-embedding file (``embedding/emb.pth``) and merging the
trained adapter into a full model (``<output_dir>/merged_model``).
"""
from __future__ import annotations

import logging
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence

import torch
from torch import Tensor, nn
from transformers import AutoTokenizer, PreTrainedConfig, PreTrainedModel

from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.errors import InputError, MissingFileError
from FlagEmbedding.utils.files import atomic_path

if TYPE_CHECKING:
    # The mixin extends AbsRunner's loading steps (super().load_config, self.hub_kwargs); at runtime it stays a
    # plain class placed before AbsRunner in the runners' bases.
    from FlagEmbedding.abc.finetune.common.runner import AbsRunner as _RunnerBase
else:
    _RunnerBase = object

logger = logging.getLogger(__name__)

DEFAULT_TARGET_MODULES = ["v_proj", "q_proj", "k_proj", "gate_proj", "down_proj", "o_proj", "up_proj"]
#: Input embeddings saved beside the adapter when the vocabulary was resized (relative to a model folder).
EMBEDDING_FILE = os.path.join("embedding", "emb.pth")
ADAPTER_CONFIG = "adapter_config.json"
MERGED_DIR = "merged_model"


@dataclass(kw_only=True)
class LoraArguments:
    """LoRA / peft options shared by the decoder-only kinds (mixed into their model arguments)."""

    use_lora: bool = field(default=True, metadata={"help": "Train LoRA adapters instead of all weights."})
    lora_rank: int = field(default=64, metadata={"help": "LoRA rank r."})
    lora_alpha: float = field(default=16, metadata={"help": "LoRA alpha."})
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout."})
    target_modules: List[str] = field(
        default_factory=lambda: list(DEFAULT_TARGET_MODULES), metadata={"help": "Modules that get adapters."}
    )
    modules_to_save: Optional[List[str]] = field(
        default=None, metadata={"help": "Modules trained in full and saved with the adapter."}
    )
    use_flash_attn: bool = field(default=False, metadata={"help": "Load with flash_attention_2."})
    from_peft: Optional[str] = field(
        default=None, metadata={"help": "Continue training this adapter folder (its embedding/emb.pth too)."}
    )
    save_merged_lora_model: bool = field(
        default=False, metadata={"help": "After training, merge the adapter and save <output_dir>/merged_model."}
    )


def model_load_kwargs(use_flash_attn: bool) -> Dict[str, Any]:
    """``from_pretrained`` keywords for the attention implementation."""
    return {"attn_implementation": "flash_attention_2"} if use_flash_attn else {}


def load_embedding_state(path: str) -> Dict[str, Tensor]:
    """State dict of a saved input embedding: a state dict (written here) or the ``nn.Embedding`` module the
    original FlagEmbedding saved. Both are read with ``weights_only=True`` (``nn.Embedding`` is the one class
    allowed); anything else is refused with :class:`InputError`, never unpickled."""
    try:
        with torch.serialization.safe_globals([nn.Embedding]):
            saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise InputError(f"{path}: not a saved state dict or nn.Embedding; refusing to unpickle it (it could run "
                         f"code). Re-save the embedding as a state dict with torch.save. ({str(error).splitlines()[0]})"
                         ) from None
    state = saved.state_dict() if isinstance(saved, nn.Embedding) else saved
    if not isinstance(state, dict) or not isinstance(state.get("weight"), Tensor):
        raise InputError(f"{path}: expected a state dict with a 'weight' tensor, got {type(saved).__name__}.")
    return state


def input_embedding_rows(model: PreTrainedModel) -> int:
    """Rows (vocabulary size) of the model's input embedding matrix."""
    weight = model.get_input_embeddings().weight
    assert isinstance(weight, Tensor)  # an embedding module's weight is a parameter
    return weight.shape[0]


def restore_embedding(model: PreTrainedModel, path: str) -> None:
    """Load ``path`` (see :func:`load_embedding_state`) into the input embeddings, resizing them first if the
    saved vocabulary size differs."""
    state = load_embedding_state(path)
    rows = state["weight"].shape[0]
    if input_embedding_rows(model) != rows:
        model.resize_token_embeddings(rows)
    model.get_input_embeddings().load_state_dict(state)
    logger.info("Restored input embeddings (%d rows) from %s.", rows, path)


def save_embedding(model: PreTrainedModel, folder: str) -> str:
    """Write the input embeddings' state dict to ``<folder>/embedding/emb.pth`` atomically; return the path."""
    path = os.path.join(folder, EMBEDDING_FILE)
    state = {k: v.detach().cpu().clone() for k, v in model.get_input_embeddings().state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return path


def merge_adapters(model: PreTrainedModel, paths: Sequence[str]) -> PreTrainedModel:
    """Apply each adapter folder in order (restoring its ``embedding/emb.pth`` first, if any) and merge it."""
    from peft import PeftModel

    for path in paths:
        embedding = os.path.join(path, EMBEDDING_FILE)
        if os.path.exists(embedding):
            restore_embedding(model, embedding)
        model = PeftModel.from_pretrained(model, path).merge_and_unload()
        logger.info("Merged adapter %s into the base model.", path)
    return model


def wrap_for_training(model: PreTrainedModel, args: LoraArguments, task_type: str, output_dir: str,
                      resized: bool) -> nn.Module:
    """Prepare a base model for training: continue ``from_peft``, add new LoRA adapters, or train it in full.

    When the vocabulary was ``resized``, the input embeddings are written to ``<output_dir>/embedding/emb.pth``
    (the new rows are random; merging needs them); otherwise ``embed_tokens`` is dropped from the targets.
    ``from_peft``'s own ``embedding/emb.pth`` is restored and copied to ``output_dir``.
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    wrapped: nn.Module
    target_modules = list(args.target_modules)
    if resized:
        save_embedding(model, output_dir)
    elif "embed_tokens" in target_modules:
        target_modules.remove("embed_tokens")
    if args.from_peft is not None:
        embedding = os.path.join(args.from_peft, EMBEDDING_FILE)
        if os.path.exists(embedding):
            restore_embedding(model, embedding)
            save_embedding(model, output_dir)
        wrapped = PeftModel.from_pretrained(model, args.from_peft, is_trainable=True)
    elif args.use_lora:
        config = LoraConfig(
            # peft annotates lora_alpha as int but only divides by it (a float alpha, as in 1.4.2, works)
            task_type=task_type, r=args.lora_rank, lora_alpha=args.lora_alpha,  # type: ignore[arg-type]
            lora_dropout=args.lora_dropout, target_modules=target_modules, modules_to_save=args.modules_to_save,
            inference_mode=False,
        )
        wrapped = get_peft_model(model, config)
    else:
        return model
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    total = sum(p.numel() for p in wrapped.parameters())
    logger.info("Trainable parameters: %d of %d (%.4f%%).", trainable, total, 100 * trainable / max(total, 1))
    return wrapped


def latest_adapter_dir(output_dir: str) -> str:
    """``output_dir`` if it holds an adapter, else its highest ``checkpoint-N`` that does.

    Raises:
        FileNotFoundError: No adapter in ``output_dir`` or its checkpoints.
    """
    if os.path.exists(os.path.join(output_dir, ADAPTER_CONFIG)):
        return output_dir
    steps = []
    if os.path.isdir(output_dir):
        for name in os.listdir(output_dir):
            match = re.fullmatch(r"checkpoint-(\d+)", name)
            if match and os.path.exists(os.path.join(output_dir, name, ADAPTER_CONFIG)):
                steps.append((int(match.group(1)), name))
    if not steps:
        raise MissingFileError(f"No LoRA adapter ({ADAPTER_CONFIG}) in {output_dir} or its checkpoint-N folders.")
    return os.path.join(output_dir, max(steps)[1])


def save_merged_model(base_model: PreTrainedModel, output_dir: str) -> str:
    """Merge the adapter trained in ``output_dir`` into ``base_model`` and save it with the tokenizer.

    The input embeddings of ``<output_dir>/embedding/emb.pth`` are restored first (if present); the adapter is
    read from ``output_dir`` or its latest checkpoint; the tokenizer from the same folder. Returns
    ``<output_dir>/merged_model``.
    """
    from peft import PeftModel

    embedding = os.path.join(output_dir, EMBEDDING_FILE)
    if os.path.exists(embedding):
        restore_embedding(base_model, embedding)
    adapter_dir = latest_adapter_dir(output_dir)
    tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    model = PeftModel.from_pretrained(base_model, adapter_dir).merge_and_unload()
    model.config.vocab_size = model.get_input_embeddings().weight.shape[0]
    merged_dir = os.path.join(output_dir, MERGED_DIR)
    model.save_pretrained(merged_dir)
    tokenizer.save_pretrained(merged_dir)
    logger.info("Merged %s into %s.", adapter_dir, merged_dir)
    return merged_dir


class LoraRunnerMixin(_RunnerBase):
    """Runner part of the decoder kinds: build the base model, wrap it for training, merge after training.

    Subclasses set :attr:`peft_task_type` and :attr:`auto_model_class` (or override :meth:`load_base_model`).
    Mixed in before an :class:`~FlagEmbedding.abc.finetune.common.runner.AbsRunner` (whose config loading it
    extends).
    """

    peft_task_type: str = "CAUSAL_LM"
    #: ``AutoModel``-style class whose ``from_pretrained`` loads the base model
    auto_model_class: Any
    model_args: Any
    training_args: Any

    def load_config(self, **kwargs: Any) -> PreTrainedConfig:
        """The runner's config with ``use_cache=False``."""
        config = super().load_config(**kwargs)
        config.use_cache = False
        return config

    def load_base_model(self) -> PreTrainedModel:
        """The model to train (or merge into): :attr:`auto_model_class` with flash attention if asked and every
        ``raw_peft`` adapter merged."""
        args = self.model_args
        model = from_pretrained(self.auto_model_class.from_pretrained, args.model_name_or_path,
                                config=self.load_config(), **model_load_kwargs(args.use_flash_attn),
                                **self.hub_kwargs())
        return merge_adapters(model, self.raw_peft_paths())

    def raw_peft_paths(self) -> List[str]:
        """``raw_peft`` as a list (one path for embedders, several for rerankers)."""
        raw = getattr(self.model_args, "raw_peft", None)
        if raw is None:
            return []
        return [raw] if isinstance(raw, str) else list(raw)

    def wrap_for_training(self, model: PreTrainedModel, resized: bool = False) -> nn.Module:
        """See :func:`wrap_for_training`."""
        os.makedirs(self.training_args.output_dir, exist_ok=True)
        return wrap_for_training(model, self.model_args, self.peft_task_type, self.training_args.output_dir,
                                 resized)

    def uses_adapter(self) -> bool:
        """Whether training produces an adapter (LoRA or ``from_peft``)."""
        return self.model_args.use_lora or self.model_args.from_peft is not None

    def after_training(self) -> None:
        """Merge the adapter on the main process when ``save_merged_lora_model`` is set."""
        if not self.model_args.save_merged_lora_model or self.training_args.process_index != 0:
            return
        if not self.uses_adapter():
            logger.warning("save_merged_lora_model ignored: the model was trained in full (no adapter to merge).")
            return
        self.merge_lora_model()

    def merge_lora_model(self) -> str:
        """Rebuild the base model and save ``<output_dir>/merged_model`` (see :func:`save_merged_model`)."""
        return save_merged_model(self.load_base_model(), self.training_args.output_dir)
