"""Text splits and the truncated-BPTT layout of a token array as parallel streams."""

from __future__ import annotations

import numpy as np
import torch

from seqgen.errors import SeqgenError


def split_text(text: str, val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Contiguous split by position: train first, then validation, then test at the very end."""
    if val_fraction + test_fraction >= 1.0:
        raise SeqgenError("--val-fraction plus --test-fraction must leave some text for training")
    n = len(text)
    test_start = n - int(round(n * test_fraction))
    val_start = test_start - int(round(n * val_fraction))
    return {"train": text[:val_start], "val": text[val_start:test_start], "test": text[test_start:]}


def batchify(ids: torch.Tensor, batch_size: int, offset: int = 0) -> torch.Tensor:
    """Lay a 1-D token array out as `batch_size` contiguous streams, one per row.

    With the alphabet as tokens and batch_size 4:
        a b c d e f g h i j k l m n o p q r s t u v w x   (offset 0)
        ┌ a b c d e f ┐
        │ g h i j k l │   row b continues where row b-1's text left off, so the hidden state
        │ m n o p q r │   carried from one window of a row to the next sees contiguous text;
        └ s t u v w x ┘   the tail that does not fill a whole row is dropped.
    """
    usable = (ids.numel() - offset) // batch_size
    return ids[offset:offset + usable * batch_size].view(batch_size, usable)


def windows_per_pass(stream_length: int, bptt: int) -> int:
    """How many windows one pass over streams of this length gives (the last one may be short)."""
    return max(0, -(-(stream_length - 1) // bptt))


def window(streams: torch.Tensor, index: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets of window `index`: targets are the inputs shifted one token on."""
    start = index * bptt
    length = min(bptt, streams.size(1) - 1 - start)
    inputs = streams[:, start:start + length]  # (B, T)
    targets = streams[:, start + 1:start + 1 + length]  # (B, T)
    return inputs.long(), targets.long()


def check_size(split: str, ids: np.ndarray, batch_size: int, option: str = "--batch-size") -> None:
    if len(ids) < 2 * batch_size:
        raise SeqgenError(
            f"the {split} split has only {len(ids)} tokens, too few for {option} {batch_size}; "
            f"use a larger corpus, a smaller {option}, or a larger --{'val' if split == 'val' else split}-fraction"
            if split != "train" else
            f"the training split has only {len(ids)} tokens, too few for {option} {batch_size}; "
            f"use a larger corpus or a smaller {option}"
        )
