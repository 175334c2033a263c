"""Runner base: checks, logging and seeding, then the four ``load_*`` steps, then ``run()``."""
from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from typing import Any, Dict, Optional, Tuple

from torch import nn
from transformers import AutoConfig, AutoTokenizer, PreTrainedConfig, PreTrainedTokenizerBase, Trainer, set_seed

from FlagEmbedding.abc.finetune.common.arguments import AbsDataArguments, BaseTrainingArguments
from FlagEmbedding.utils.cli import configure_logging
from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)


def resume_value(value: Any) -> Any:
    """``--resume_from_checkpoint True`` means "the latest checkpoint in output_dir" (a bool for Trainer)."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true" or None
    return value


class AbsRunner(ABC):
    """Build everything needed for training from the three argument dataclasses, then :meth:`run`.

    Subclasses implement :meth:`load_tokenizer_and_model`, :meth:`load_train_dataset`,
    :meth:`load_data_collator` and :meth:`load_trainer`; :meth:`after_training` is a hook (LoRA merging).
    :meth:`load_tokenizer`, :meth:`load_config` and :meth:`prepare_model` are the shared loading steps.
    """

    def __init__(self, model_args: Any, data_args: AbsDataArguments,
                 training_args: BaseTrainingArguments):
        self.model_args = model_args
        self.data_args = data_args
        self.training_args = training_args
        self.check_output_dir()
        self.setup_logging()
        set_seed(training_args.seed)
        # Reading the device initializes torch.distributed under torchrun (cross-device negatives need it).
        logger.info("Training on %s (process %d of %d).", training_args.device, training_args.process_index,
                    training_args.world_size)
        self.tokenizer, self.model = self.load_tokenizer_and_model()
        self.train_dataset = self.load_train_dataset()
        self.data_collator = self.load_data_collator()
        self.trainer = self.load_trainer()

    def check_output_dir(self) -> None:
        """Refuse to train into a non-empty ``output_dir`` unless overwriting or resuming."""
        args = self.training_args
        assert args.output_dir is not None  # TrainingArguments.__post_init__ fills it
        if (
            os.path.isdir(args.output_dir)
            and os.listdir(args.output_dir)
            and args.do_train
            and not getattr(args, "overwrite_output_dir", False)
            and not args.resume_from_checkpoint
        ):
            raise InputError(
                f"Output directory ({args.output_dir}) already exists and is not empty. "
                "Use --overwrite_output_dir to overcome."
            )

    def setup_logging(self) -> None:
        """INFO on the main local process, WARNING elsewhere; log the arguments."""
        local_rank = self.training_args.local_rank
        configure_logging(logging.INFO if local_rank in (-1, 0) else logging.WARN)
        logging.getLogger("FlagEmbedding").setLevel(logging.INFO if local_rank in (-1, 0) else logging.WARN)
        logger.warning(
            "Process rank: %s, device: %s, n_gpu: %s, distributed training: %s, 16-bits training: %s",
            local_rank, self.training_args.device, self.training_args.n_gpu, bool(local_rank != -1),
            self.training_args.fp16,
        )
        logger.info("Training parameters %s", self.training_args)
        logger.info("Model parameters %s", self.model_args)
        logger.info("Data parameters %s", self.data_args)

    def hub_kwargs(self) -> Dict[str, Any]:
        """Cache / token / remote-code keywords of every ``from_pretrained``."""
        args = self.model_args
        return dict(cache_dir=args.cache_dir, token=args.token, trust_remote_code=args.trust_remote_code)

    def load_tokenizer(self) -> PreTrainedTokenizerBase:
        """Tokenizer from ``tokenizer_name`` or the model path (``use_fast_tokenizer``)."""
        args = self.model_args
        return from_pretrained(AutoTokenizer.from_pretrained, args.tokenizer_name or args.model_name_or_path,
                               use_fast=args.use_fast_tokenizer, **self.hub_kwargs())

    def load_config(self, **kwargs: Any) -> PreTrainedConfig:
        """Config from ``config_name`` or the model path (``kwargs`` override its values); logged."""
        args = self.model_args
        config = from_pretrained(AutoConfig.from_pretrained, args.config_name or args.model_name_or_path, **kwargs,
                                 **self.hub_kwargs())
        logger.info("Config: %s", config)
        return config

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Make the inputs require grad when gradient checkpointing; return ``model``."""
        if self.training_args.gradient_checkpointing:
            # torch types Module attributes as Tensor | Module; this one is the HF/wrapper method
            model.enable_input_require_grads()  # type: ignore[operator]
        return model

    @abstractmethod
    def load_tokenizer_and_model(self) -> Tuple[PreTrainedTokenizerBase, Optional[nn.Module]]:
        """The tokenizer and the training wrapper model."""

    @abstractmethod
    def load_train_dataset(self) -> Any:
        """The training dataset."""

    @abstractmethod
    def load_data_collator(self) -> Any:
        """The data collator."""

    @abstractmethod
    def load_trainer(self) -> Optional[Trainer]:
        """The trainer."""

    def run(self) -> None:
        """Train (resuming if asked), save the final model, then :meth:`after_training`."""
        assert self.training_args.output_dir is not None  # TrainingArguments.__post_init__ fills it
        os.makedirs(self.training_args.output_dir, exist_ok=True)
        assert self.trainer is not None  # only a runner that overrides run() builds none
        self.trainer.train(resume_from_checkpoint=resume_value(self.training_args.resume_from_checkpoint))
        self.trainer.save_model()
        self.after_training()

    def after_training(self) -> None:
        """Hook run after the final save (decoder kinds merge LoRA weights here)."""

    @staticmethod
    def freeze_parameters(model: nn.Module, name_part: str) -> int:
        """Set ``requires_grad=False`` on parameters whose name contains ``name_part``; return how many."""
        frozen = 0
        for name, parameter in model.named_parameters():
            if name_part in name:
                parameter.requires_grad = False
                frozen += 1
        return frozen

