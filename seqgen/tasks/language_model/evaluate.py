"""Scoring a language model on a split or a file: loss, perplexity, bits per token and character, and
for music the loss per quarter note and statistics of generated pieces beside the corpus's."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.data.text import batchify, window, windows_per_pass
from seqgen.device import autocast
from seqgen.errors import SeqgenError


def stream_count(tokens: int, batch_size: int, bptt: int) -> int:
    """Streams to score `tokens` in: at most `batch_size`, and few enough that each stream holds two
    windows, since every stream starts without context and too many would raise the loss."""
    return max(1, min(batch_size, tokens // (2 * bptt)))


@torch.no_grad()
def evaluate_loss(model, ids: np.ndarray, batch_size: int, bptt: int, device,
                  should_stop: Optional[Callable[[], bool]] = None) -> Optional[float]:
    """Mean cross-entropy in nats per token, the state carried through each stream; None when
    `should_stop()` turned true part-way."""
    device = torch.device(device)
    if len(ids) < 2:
        raise SeqgenError("the text to evaluate is too short: it needs at least two tokens")
    streams = batchify(torch.from_numpy(ids).to(device), stream_count(len(ids), batch_size, bptt))
    was_training = model.training
    model.eval()
    state = None
    total = torch.zeros((), device=device, dtype=torch.float64)
    count = 0
    try:
        for index in range(windows_per_pass(streams.size(1), bptt)):
            if should_stop is not None and should_stop():
                return None
            inputs, targets = window(streams, index, bptt)
            with autocast(device):
                logits, state = model(inputs, state)
            total += torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), targets.flatten(),
                                                       reduction="sum").double()
            count += targets.numel()
    finally:
        model.train(was_training)
    if count == 0:
        raise SeqgenError("the text to evaluate is too short: it needs at least two tokens")
    return total.item() / count


def evaluate(lm, split: str = "test", text_file: str | None = None, encoding: str = "utf-8", batch_size: int = 16,
             num_generated: int = 8, seed: int = 0) -> dict:
    """Figures of a loaded LanguageModel on its corpus's split, or on any text file."""
    from seqgen.data.corpora import read_text_file
    from seqgen.tasks.language_model.data import load_splits

    if split not in ("val", "test"):
        raise SeqgenError(f"--split must be val or test, not {split!r}")
    tokenizer, config = lm.tokenizer, lm.train_config
    quarters = None
    if text_file is not None:
        if tokenizer.kind == "music":
            raise SeqgenError("--text needs a text model; a music checkpoint is evaluated on its corpus's splits")
        text, source = read_text_file(Path(text_file), encoding), text_file
        ids, characters = lm.encode(text), len(text)
    else:
        splits = load_splits(config, lm.payload["tokenizer"])
        ids, source = splits.ids[split], f"{config.corpus} ({split} split)"
        characters, quarters = splits.characters.get(split), splits.quarters.get(split)
        if len(ids) < 2:
            why = (f"this run used --{split}-fraction 0" if getattr(config, f"{split}_fraction") == 0 else
                   "the corpus has too few pieces to hold one out for it" if tokenizer.kind == "music" else
                   "the corpus is too short")
            raise SeqgenError(f"the {split} split of {config.corpus} is empty ({why}); score a file with --text FILE")
    streams = stream_count(len(ids), batch_size, config.bptt)
    loss = evaluate_loss(lm.model, ids, batch_size, config.bptt, lm.device)
    total_nats = loss * max(0, len(ids) - 1)
    result = {"source": source, "tokens": int(len(ids)), "streams": streams, "loss": loss,
              "perplexity": math.exp(min(loss, 700)), "bits_per_token": loss / math.log(2)}
    if streams < batch_size:
        result["note"] = (f"scored in {streams} stream(s), not --batch-size {batch_size}: each stream needs at least "
                          f"two windows of {config.bptt} tokens")
    if characters:
        result.update(characters=characters, bits_per_character=total_nats / max(1, characters - 1) / math.log(2))
    if quarters:
        result.update(quarter_notes=quarters, loss_per_quarter=total_nats / quarters)
    if tokenizer.kind == "music" and num_generated:
        result["generated_vs_corpus"] = _music_statistics(lm, ids, num_generated, seed)
    return result


def _music_statistics(lm, ids, count: int, seed: int) -> dict:
    """Generate `count` 16-bar pieces and set their statistics beside those of the evaluated pieces."""
    from seqgen.music.stats import compare
    from seqgen.tasks.language_model.generate import generate_pieces

    tokenizer = lm.tokenizer
    reference = tokenizer.decode_pieces(ids)
    generated = generate_pieces(lm.model, tokenizer, [tokenizer.index["piece"]], count, 1920, 16, 1.0, None, None,
                                seed, lm.device)
    return {"settings": {"pieces": count, "bars": 16, "temperature": 1.0, "seed": seed},
            **compare(generated, reference, tokenizer.grid)}
