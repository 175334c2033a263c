"""``TrainingArguments`` flags that transformers 5 removed, translated or refused in one table.

A launch script written for FlagEmbedding 1.4.2 (transformers 4.x) may still pass them. Each one either maps to
its transformers 5 equivalent (with a one-line deprecation warning) or stops the launch with a message naming what
replaced it; none is dropped silently when it would change training.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)

_TRUE = ("true", "yes", "1", "t", "y")
_FALSE = ("false", "no", "0", "f", "n")


@dataclass(frozen=True)
class LegacyFlag:
    """How one removed flag is handled.

    ``translate(value)`` returns the replacement arguments (``[]`` when the old value is what transformers 5 always
    does) or ``None`` when the value cannot be honoured; ``replacement`` names what replaced the flag.
    ``is_bool`` flags may be given without a value (``--no_cuda``), meaning ``True``.
    """

    replacement: str
    translate: Callable[[str], Optional[List[str]]]
    is_bool: bool = False


def _renamed(new_flag: str) -> Callable[[str], List[str]]:
    return lambda value: [new_flag, value]


def _when_true(arguments: Optional[List[str]]) -> Callable[[str], Optional[List[str]]]:
    """A boolean flag: ``True`` -> ``arguments`` (``None``: refused); ``False`` -> nothing (the transformers 5
    default)."""
    return lambda value: arguments if _bool(value) else []


def _only_default(default: str) -> Callable[[str], Optional[List[str]]]:
    """The flag is gone and transformers 5 always behaves as ``default`` did; other values are refused."""
    return lambda value: [] if value.lower() == default else None


def _refused(value: str) -> None:
    return None


def _logging_dir(value: str) -> List[str]:
    os.environ["TENSORBOARD_LOGGING_DIR"] = value  # where transformers 5's TensorBoard callback reads it
    return []


def _bool(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InputError(f"expected a boolean (true/false), got {value!r}.")


#: removed flag (without ``--``) -> how it is handled
LEGACY_TRAINING_FLAGS: Dict[str, LegacyFlag] = {
    "per_gpu_train_batch_size": LegacyFlag("--per_device_train_batch_size",
                                           _renamed("--per_device_train_batch_size")),
    "per_gpu_eval_batch_size": LegacyFlag("--per_device_eval_batch_size", _renamed("--per_device_eval_batch_size")),
    "no_cuda": LegacyFlag("--use_cpu", _when_true(["--use_cpu", "True"]), is_bool=True),
    "use_mps_device": LegacyFlag("automatic MPS selection (pass --use_cpu to avoid it)", _when_true([]),
                                 is_bool=True),
    "group_by_length": LegacyFlag("--train_sampling_strategy group_by_length",
                                  _when_true(["--train_sampling_strategy", "group_by_length"]), is_bool=True),
    "adafactor": LegacyFlag("--optim adafactor", _when_true(["--optim", "adafactor"]), is_bool=True),
    "logging_dir": LegacyFlag("the TENSORBOARD_LOGGING_DIR environment variable", _logging_dir),
    "save_safetensors": LegacyFlag("always saving safetensors", lambda value: [] if _bool(value) else None,
                                   is_bool=True),
    "no_save_safetensors": LegacyFlag("always saving safetensors (.bin checkpoints are no longer written)",
                                      lambda value: None if _bool(value) else [], is_bool=True),
    "include_inputs_for_metrics": LegacyFlag("--include_for_metrics inputs",
                                             _when_true(["--include_for_metrics", "inputs"]), is_bool=True),
    "include_tokens_per_second": LegacyFlag("--include_num_input_tokens_seen all",
                                            _when_true(["--include_num_input_tokens_seen", "all"]), is_bool=True),
    "push_to_hub_model_id": LegacyFlag("--hub_model_id", _renamed("--hub_model_id")),
    "push_to_hub_token": LegacyFlag("--hub_token", _renamed("--hub_token")),
    "push_to_hub_organization": LegacyFlag("--hub_model_id <organization>/<name>", _refused),
    "torchdynamo": LegacyFlag("--torch_compile_backend", _renamed("--torch_compile_backend")),
    "half_precision_backend": LegacyFlag("torch AMP, always (--fp16 / --bf16)", _only_default("auto")),
    "fp16_backend": LegacyFlag("torch AMP, always (--fp16 / --bf16)", _only_default("auto")),
    "fp16_opt_level": LegacyFlag("torch AMP (apex levels are gone; use --fp16 or --bf16)", _only_default("o1")),
    "fsdp_min_num_params": LegacyFlag('--fsdp_config with {"min_num_params": N}', _only_default("0")),
    "fsdp_transformer_layer_cls_to_wrap": LegacyFlag(
        '--fsdp_config with {"transformer_layer_cls_to_wrap": [...]}', _refused),
    "jit_mode_eval": LegacyFlag("nothing (TorchScript evaluation was removed)", _when_true(None), is_bool=True),
    "use_ipex": LegacyFlag("nothing (Intel Extension for PyTorch support was removed)", _when_true(None),
                           is_bool=True),
    "tpu_num_cores": LegacyFlag("launching with torch_xla / accelerate", _refused),
    "tpu_metrics_debug": LegacyFlag("--debug tpu_metrics_debug", _when_true(["--debug", "tpu_metrics_debug"]),
                                    is_bool=True),
    "past_index": LegacyFlag("nothing (the past-state mechanism was removed)", _only_default("-1")),
    "ray_scope": LegacyFlag("nothing (configure Ray Tune through hp_search_backend)", _only_default("last")),
    "mp_parameters": LegacyFlag("nothing (SageMaker model-parallel support was removed)", _only_default("")),
    "use_legacy_prediction_loop": LegacyFlag("the evaluation loop (the legacy loop was removed)", _when_true(None),
                                             is_bool=True),
}


def _split(token: str) -> tuple:
    """``"--no-cuda=1"`` -> ``("no_cuda", "1")``; ``"--no_cuda"`` -> ``("no_cuda", None)``."""
    name, _, value = token[2:].partition("=")
    return name.replace("-", "_"), (value if "=" in token else None)


def translate_legacy_flags(argv: Sequence[str]) -> List[str]:
    """``argv`` with every removed ``TrainingArguments`` flag replaced by its transformers 5 equivalent.

    Each translation logs one deprecation warning; a flag whose value cannot be honoured raises
    :class:`InputError` naming what replaced it.
    """
    out: List[str] = []
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        name, value = _split(token) if token.startswith("--") else (None, None)
        legacy = LEGACY_TRAINING_FLAGS.get(name)
        if legacy is None:
            out.append(token)
            continue
        if value is None:
            following = argv[index] if index < len(argv) else None
            takes_next = following is not None and not following.startswith("--") and (
                not legacy.is_bool or following.lower() in _TRUE + _FALSE)
            if takes_next:
                value, index = following, index + 1
            elif legacy.is_bool:
                value = "true"
            else:
                raise InputError(f"--{name} expects a value (it was replaced by {legacy.replacement}).")
        try:
            replacement = legacy.translate(value)
        except InputError as error:
            raise InputError(f"--{name}: {error}") from None
        if replacement is None:
            raise InputError(f"--{name} {value} is no longer supported by transformers 5; it was replaced by "
                             f"{legacy.replacement}.")
        logger.warning("--%s is deprecated (removed in transformers 5); using %s instead.", name,
                       " ".join(replacement) or legacy.replacement)
        out.extend(replacement)
    return out
