"""Scoring a language model on a split or a file: loss, perplexity, bits per token and character."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from seqgen.data.text import batchify, window, windows_per_pass
from seqgen.device import autocast, resolve_device
from seqgen.errors import SeqgenError


@torch.no_grad()
def evaluate_loss(model, ids: np.ndarray, batch_size: int, bptt: int, device) -> float:
    """Mean cross-entropy in nats per token, the state carried through each of `batch_size` streams."""
    batch_size = max(1, min(batch_size, len(ids) // 2))
    streams = batchify(torch.from_numpy(ids.astype(np.int64)).to(device), batch_size)
    was_training = model.training
    model.eval()
    state = None
    total = torch.zeros((), device=device, dtype=torch.float64)
    count = 0
    for index in range(windows_per_pass(streams.size(1), bptt)):
        inputs, targets = window(streams, index, bptt)
        with autocast(device):
            logits, state = model(inputs, state)
        total += torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="sum").double()
        count += targets.numel()
    model.train(was_training)
    if count == 0:
        raise SeqgenError("the text to evaluate is too short: it needs at least two tokens")
    return total.item() / count


def evaluate_checkpoint(checkpoint: str, split: str = "test", text_file: str | None = None,
                        encoding: str = "utf-8", batch_size: int = 16, device: str = "auto") -> dict:
    """Evaluate a language-model checkpoint on its corpus's split, or on any text file."""
    from seqgen.checkpoint import load_language_model
    from seqgen.config import TrainConfig, from_dict
    from seqgen.data.corpora import load_corpus, read_text_file
    from seqgen.data.text import split_text

    torch_device = resolve_device(device)
    model, tokenizer, payload = load_language_model(checkpoint, torch_device)
    train_config = from_dict(TrainConfig, payload["train_config"])
    if text_file is not None:
        text, source = read_text_file(Path(text_file), encoding), text_file
    else:
        _, corpus_text = load_corpus(train_config.corpus, train_config.encoding)
        text = split_text(corpus_text, train_config.val_fraction, train_config.test_fraction)[split]
        source = f"{train_config.corpus} ({split} split)"
        if len(text) < 2:
            raise SeqgenError(f"the {split} split of {train_config.corpus} is empty; this run used --{split}-fraction 0")
    ids = tokenizer.encode(text)
    loss = evaluate_loss(model, ids, batch_size, train_config.bptt, torch_device)
    total_nats = loss * max(0, len(ids) - 1)
    return {
        "source": source,
        "tokens": int(len(ids)),
        "characters": len(text),
        "loss": loss,
        "perplexity": math.exp(min(loss, 700)),
        "bits_per_token": loss / math.log(2),
        "bits_per_character": total_nats / max(1, len(text) - 1) / math.log(2),
    }
