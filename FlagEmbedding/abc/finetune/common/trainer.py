"""HF ``Trainer`` base shared by every fine-tuning kind: tokenizer keyword, loss, saving and resuming."""
from __future__ import annotations

import inspect
import logging
import os
from abc import ABC
from typing import Any, Dict, Optional, Tuple, Union

import torch
from torch import Tensor, nn
from transformers import Trainer, TrainerCallback
from transformers.trainer import TRAINING_ARGS_NAME

from FlagEmbedding.utils.errors import InputTypeError, NonFiniteLossError

logger = logging.getLogger(__name__)

_TOKENIZER_KEYWORD = (
    "processing_class" if "processing_class" in inspect.signature(Trainer.__init__).parameters else "tokenizer"
)


class DatasetEpochCallback(TrainerCallback):
    """Tells a dataset with ``set_epoch`` which epoch starts (its group sampling is seeded per epoch)."""

    def __init__(self, dataset: Any):
        self.dataset = dataset

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """``dataset.set_epoch(completed epochs)`` (also right after resuming mid-epoch)."""
        self.dataset.set_epoch(int(state.epoch or 0))


class AbsTrainer(Trainer, ABC):
    """``Trainer`` for the wrapper models of this package.

    * accepts the tokenizer as ``processing_class=`` (transformers >= 4.46) or ``tokenizer=`` (older name);
    * ``compute_loss`` returns ``model(**inputs).loss`` and stops training with :class:`NonFiniteLossError` when it
      is NaN or infinite (nothing more is trained or saved);
    * ``_save`` writes the model through the wrapper's :attr:`save_method` (``save`` by default), the tokenizer
      and ``training_args.bin``; only the process that should save writes (the gathered ``state_dict`` of
      ZeRO-3 is not used, so ZeRO-3 is unsupported);
    * resuming loads the checkpoint into the wrapper's inner model (``model.checkpoint_model()``) plus any extra
      files (``model.load_extra_checkpoint_files``);
    * a training dataset with ``set_epoch`` is told each epoch's number (:class:`DatasetEpochCallback`).
    """

    save_method = "save"

    def __init__(self, *args: Any, tokenizer: Any = None, **kwargs: Any):
        if tokenizer is not None:
            if kwargs.get(_TOKENIZER_KEYWORD) is not None and kwargs[_TOKENIZER_KEYWORD] is not tokenizer:
                raise InputTypeError("Pass the tokenizer once, as processing_class= or tokenizer=, not both.")
            kwargs[_TOKENIZER_KEYWORD] = tokenizer
        super().__init__(*args, **kwargs)
        if hasattr(self.train_dataset, "set_epoch"):
            self.add_callback(DatasetEpochCallback(self.train_dataset))

    @property
    def tokenizer(self) -> Any:
        """The tokenizer (``processing_class``)."""
        return getattr(self, "processing_class", None)

    def compute_loss(  # type: ignore[override]
        self, model: nn.Module, inputs: Dict[str, Any], return_outputs: bool = False, **kwargs: Any
    ) -> Union[Tensor, Tuple[Tensor, Any]]:
        """``model(**inputs).loss`` (and the outputs when ``return_outputs``); a non-finite loss stops training."""
        outputs = model(**inputs)
        self.check_loss(outputs.loss)
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def check_loss(self, loss: Tensor) -> None:
        """Raise :class:`NonFiniteLossError` when ``loss`` is NaN or infinite."""
        if not bool(torch.isfinite(loss.detach()).all()):
            raise NonFiniteLossError(
                f"the training loss is {loss.detach().float().mean().item()} at step "
                f"{self.state.global_step + 1}; training stopped before updating the model. Check the data (teacher "
                f"scores, empty texts), lower --learning_rate, or train in fp32/bf16 instead of fp16."
            )

    def _save(self, output_dir: Optional[str] = None, state_dict: Optional[Dict[str, Tensor]] = None) -> None:
        output_dir = output_dir if output_dir is not None else self.args.output_dir
        if not self.args.should_save:
            return
        assert output_dir is not None, "checkpoints need an output_dir"
        os.makedirs(output_dir, exist_ok=True)
        logger.info("Saving model checkpoint to %s", output_dir)
        model = self.accelerator.unwrap_model(self.model)
        save = getattr(model, self.save_method, None)
        if save is None:
            raise NotImplementedError(f"{type(model).__name__} has no {self.save_method}() to save checkpoints with.")
        save(output_dir)
        if self.tokenizer is not None and self.is_world_process_zero():
            self.tokenizer.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Optional[nn.Module] = None) -> None:
        wrapper = self.accelerator.unwrap_model(model if model is not None else self.model)
        super()._load_from_checkpoint(resume_from_checkpoint, model=wrapper.checkpoint_model())
        wrapper.load_extra_checkpoint_files(resume_from_checkpoint)
