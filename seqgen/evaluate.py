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
    device = torch.device(device)
    batch_size = max(1, min(batch_size, len(ids) // 2))
    streams = batchify(torch.from_numpy(ids).to(device), batch_size)
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
                        encoding: str = "utf-8", batch_size: int = 16, device: str = "auto",
                        num_generated: int = 8, seed: int = 0) -> dict:
    """Evaluate a language-model checkpoint on its corpus's split, or on any text file."""
    from seqgen.checkpoint import load_language_model
    from seqgen.config import TrainConfig, from_dict
    from seqgen.data.corpora import read_text_file
    from seqgen.data.splits import load_splits

    torch_device = resolve_device(device)
    model, tokenizer, payload = load_language_model(checkpoint, torch_device)
    train_config = from_dict(TrainConfig, payload["train_config"])
    quarters = None
    if text_file is not None:
        if tokenizer.kind == "music":
            raise SeqgenError("--text needs a text model; a music checkpoint is evaluated on its corpus's splits")
        text, source = read_text_file(Path(text_file), encoding), text_file
        ids, characters = tokenizer.encode(text), len(text)
    else:
        splits = load_splits(train_config, payload["tokenizer"])
        ids, source = splits.ids[split], f"{train_config.corpus} ({split} split)"
        characters, quarters = splits.characters.get(split), splits.quarters.get(split)
        if len(ids) < 2:
            raise SeqgenError(f"the {split} split of {train_config.corpus} is empty; this run used --{split}-fraction 0")
    loss = evaluate_loss(model, ids, batch_size, train_config.bptt, torch_device)
    total_nats = loss * max(0, len(ids) - 1)
    result = {"source": source, "tokens": int(len(ids)), "loss": loss, "perplexity": math.exp(min(loss, 700)),
              "bits_per_token": loss / math.log(2)}
    if characters:
        result.update(characters=characters, bits_per_character=total_nats / max(1, characters - 1) / math.log(2))
    if quarters:
        result.update(quarter_notes=quarters, loss_per_quarter=total_nats / quarters)
    if tokenizer.kind == "music" and num_generated:
        result["generated_vs_corpus"] = _music_statistics(model, tokenizer, ids, num_generated, seed, torch_device)
    return result


def _music_statistics(model, tokenizer, ids, count: int, seed: int, device) -> dict:
    """Generate `count` 16-bar pieces and set their statistics beside those of the evaluated pieces."""
    from seqgen.music.generate import generate_pieces
    from seqgen.music.stats import compare

    reference = tokenizer.decode_pieces(ids)
    generated = generate_pieces(model, tokenizer, [tokenizer.index["piece"]], count, 1920, 16, 1.0, None, None,
                                seed, device)
    return {"settings": {"pieces": count, "bars": 16, "temperature": 1.0, "seed": seed}, **compare(generated, reference, tokenizer.grid)}
