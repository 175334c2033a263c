"""Target-device resolution and per-device precision rules shared by embedders and rerankers."""
from __future__ import annotations

from typing import List, Optional, Union

import torch

from FlagEmbedding.backends.cpu_info import is_cpu

DevicesArg = Optional[Union[str, int, List[str], List[int]]]

DEVICES_ERROR = "devices should be a string or an integer or a list of strings or a list of integers."


def _musa_available() -> bool:
    return hasattr(torch, "musa") and getattr(torch, "musa").is_available()


def _npu_available() -> bool:
    return hasattr(torch, "npu") and getattr(torch, "npu").is_available()


def get_target_devices(devices: DevicesArg, mps_with_index: bool = True) -> List[str]:
    """Resolve the ``devices`` constructor argument into a list of torch device strings.

    ``None`` picks every available accelerator (CUDA, NPU, MUSA, MPS) or ``["cpu"]``; a string is used
    verbatim; an int ``n`` means ``"cuda:n"``; a list of strings is kept; a list of ints maps to CUDA indices.
    """
    if devices is None:
        if torch.cuda.is_available():
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if _npu_available():
            return [f"npu:{i}" for i in range(getattr(torch, "npu").device_count())]
        if _musa_available():
            return [f"musa:{i}" for i in range(getattr(torch, "musa").device_count())]
        if torch.backends.mps.is_available():
            if not mps_with_index:
                return ["mps"]
            try:
                return [f"mps:{i}" for i in range(torch.mps.device_count())]
            except AttributeError:
                return ["mps"]
        return ["cpu"]
    prefix = "musa" if _musa_available() else "cuda"
    if isinstance(devices, str):
        return [devices]
    if isinstance(devices, bool):
        raise ValueError(DEVICES_ERROR)
    if isinstance(devices, int):
        return [f"{prefix}:{devices}"]
    if isinstance(devices, (list, tuple)) and len(devices) > 0:
        if all(isinstance(d, str) for d in devices):
            return [d for d in devices if isinstance(d, str)]  # all of them
        if all(isinstance(d, int) and not isinstance(d, bool) for d in devices):
            return [f"{prefix}:{d}" for d in devices]
    raise ValueError(DEVICES_ERROR)


def compute_dtype(device: Union[str, torch.device], use_fp16: bool, use_bf16: bool) -> torch.dtype:
    """The dtype a forward pass runs in on ``device``.

    On CPU half precision is slow and lossy, so fp16 is never used there: the CPU runs fp32 unless
    ``use_bf16`` opts into bfloat16. Accelerators use bf16, then fp16, then fp32 in that priority.
    """
    if use_bf16:
        return torch.bfloat16
    if use_fp16 and not is_cpu(device):
        return torch.float16
    return torch.float32


def load_dtype(devices: List[str], use_fp16: bool, use_bf16: bool) -> torch.dtype:
    """The dtype weights are loaded in: full precision unless every target device computes in half."""
    dtypes = {compute_dtype(d, use_fp16, use_bf16) for d in devices}
    return dtypes.pop() if len(dtypes) == 1 else torch.float32


def empty_device_cache() -> None:
    """Release cached accelerator memory; a no-op on CPU."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if _npu_available():
        getattr(torch, "npu").empty_cache()
    if _musa_available():
        getattr(torch, "musa").empty_cache()
