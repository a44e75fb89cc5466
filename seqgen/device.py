"""Picking the device, the numeric precision of training, and the autocast context that goes with them."""

from __future__ import annotations

import contextlib
import functools
import platform
from pathlib import Path

import torch

from seqgen.errors import SeqgenError

PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name) -> torch.device:
    """The device to run on: `auto` (cuda when there is one), `cpu` or `cuda`, as --device takes them; a
    torch.device (e.g. cuda:1, from Python) is taken as it is."""
    if isinstance(name, torch.device):
        return name
    if not isinstance(name, str) or name not in DEVICES:
        raise SeqgenError(f"--device must be one of {', '.join(DEVICES)}, not {name!r}"[:200])
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SeqgenError("--device cuda was asked for, but PyTorch sees no CUDA GPU here; use --device cpu or auto")
    return torch.device(name)


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16() -> bool:
    """True where the CPU multiplies bf16 in hardware (AVX-512 BF16 or AMX): there bf16 matrix
    products run several times faster than fp32; elsewhere bf16 is emulated and slower."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cpu_name() -> str:
    """The CPU's model name as the system reports it (every benchmark names the machine it ran on)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def native_bf16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


# On a CPU, autocast converts the weights to bf16 at every step; below about this many tokens per step
# that costs more than the faster products save (small steps train faster in fp32, large ones in bf16;
# scripts/bench_quality.py compares them).
CPU_BF16_MIN_TOKENS = 4096


def resolve_precision(name: str, device: torch.device, tokens_per_step: int | None = None) -> str:
    """'auto' → 'bf16' where the device computes bf16 natively (on a CPU, only for steps of at least
    CPU_BF16_MIN_TOKENS tokens, where it is faster), else 'fp32'. A forced 'bf16' works everywhere
    (emulated where the hardware lacks it)."""
    if name not in PRECISIONS:
        raise SeqgenError(f"--precision must be one of {', '.join(PRECISIONS)}, not {name!r}")
    if name != "auto":
        return name
    if not native_bf16(device):
        return "fp32"
    small = device.type == "cpu" and tokens_per_step is not None and tokens_per_step < CPU_BF16_MIN_TOKENS
    return "fp32" if small else "bf16"


def autocast(device: torch.device, precision: str | None = None):
    """The context a forward pass runs in: bf16 autocast (matrix products and the LSTM in bf16; weights,
    optimizer state and losses stay fp32) or nothing. Without `precision`, bf16 on CUDA and fp32 on the
    CPU (how inference runs unless asked otherwise)."""
    if precision is None:
        precision = "bf16" if device.type == "cuda" else "fp32"
    if precision == "bf16" and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
