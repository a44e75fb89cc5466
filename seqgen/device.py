"""Picking the device and the autocast context that goes with it."""

from __future__ import annotations

import contextlib

import torch

from seqgen.errors import SeqgenError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SeqgenError("--device cuda was asked for, but PyTorch sees no CUDA GPU here; use --device cpu or auto")
    return torch.device(name)


def autocast(device: torch.device):
    """bf16 autocast on CUDA (the LSTM kernels and matmuls run in bf16, losses in fp32); nothing on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
