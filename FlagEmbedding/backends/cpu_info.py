"""What this CPU is and whether it computes bfloat16 faster than fp32 (a short probe, cached per process)."""
from __future__ import annotations

import functools
import glob
import logging
import os
import platform
import time
from typing import List, Optional

import torch

logger = logging.getLogger(__name__)


def is_cpu(device: "str | torch.device") -> bool:
    """True when ``device`` names the CPU."""
    return torch.device(device).type == "cpu"

#: ISA flags that decide CPU matmul speed in fp32, bf16 and int8
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8")


def _cpuinfo_field(name: str) -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == name:
                    return value.strip()
    except OSError:
        pass
    return ""


def cpu_model() -> str:
    """The CPU model name (``/proc/cpuinfo``, else :func:`platform.processor`)."""
    return _cpuinfo_field("model name") or platform.processor() or "unknown CPU"


def cpu_speed_flags() -> List[str]:
    """Which of :data:`SPEED_FLAGS` this CPU reports (empty where ``/proc/cpuinfo`` is unavailable)."""
    flags = set(_cpuinfo_field("flags").split())
    return [flag for flag in SPEED_FLAGS if flag in flags]


#: suffixes of sysfs cache sizes ("32768K")
_SIZE_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@functools.lru_cache(maxsize=None)
def last_level_cache_bytes(sysfs_cache: str = "/sys/devices/system/cpu/cpu0/cache") -> Optional[int]:
    """Size of the largest data cache of CPU 0 (its L3 on x86) from ``sysfs_cache``; None where it does not say."""
    sizes = []
    for folder in glob.glob(os.path.join(sysfs_cache, "index*")):
        try:
            with open(os.path.join(folder, "type"), encoding="utf-8") as f:
                if f.read().strip() == "Instruction":
                    continue
            with open(os.path.join(folder, "size"), encoding="utf-8") as f:
                text = f.read().strip().upper()
        except OSError:
            continue
        number, unit = (text[:-1], _SIZE_UNITS[text[-1]]) if text and text[-1] in _SIZE_UNITS else (text, 1)
        if number.isdigit():
            sizes.append(int(number) * unit)
    return max(sizes) if sizes else None


def cpu_description() -> str:
    """``"<model> [flag, ...], <n> torch threads"``: printed beside every benchmark figure."""
    return f"{cpu_model()} [{', '.join(cpu_speed_flags()) or 'no AVX-512/AMX'}], {torch.get_num_threads()} torch threads"


def _best_matmul_seconds(dtype: torch.dtype, repeats: int) -> float:
    a = torch.randn(1024, 384).to(dtype)
    b = torch.randn(384, 1536).to(dtype)
    torch.mm(a, b)  # warm-up (oneDNN kernel selection)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return best


@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup(repeats: int = 5) -> float:
    """fp32 time / bf16 time of an encoder-shaped CPU matmul (1024x384 @ 384x1536), best of ``repeats``.

    Above 1 the CPU computes bf16 faster (AMX, or AVX-512-BF16 on some cores); below 1 bf16 is slower
    (emulated or converted). Measured once per process (about 50 ms).
    """
    with torch.inference_mode():
        return _best_matmul_seconds(torch.float32, repeats) / _best_matmul_seconds(torch.bfloat16, repeats)


def warn_if_cpu_bf16_slow() -> bool:
    """Log a warning when bf16 is slower than fp32 on this CPU (see :func:`cpu_bf16_speedup`); report whether it was."""
    speedup = cpu_bf16_speedup()
    if speedup >= 1.0:
        return False
    logger.warning(
        "use_bf16=True on CPU: this CPU (%s) runs bfloat16 matmuls at %.2fx the fp32 speed, so bf16 is slower "
        "and less exact here; leave use_bf16=False for fp32.", cpu_description(), speedup,
    )
    return True
