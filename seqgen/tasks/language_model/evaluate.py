"""Scoring a language model on a split or a file: loss, perplexity, bits per token and character, and
for music the loss per quarter note and statistics of generated pieces beside the corpus's."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from seqgen.data.text import batchify, window, windows_per_pass
from seqgen.decode.sampling import Sampling
from seqgen.device import autocast
from seqgen.errors import SeqgenError
from seqgen.tasks.language_model.music import next_token_bias


def stream_count(tokens: int, batch_size: int, bptt: int) -> int:
    """Streams to score `tokens` in: at most `batch_size`, and few enough that each stream holds two
    windows, since every stream starts without context and too many would raise the loss."""
    return max(1, min(batch_size, tokens // (2 * bptt)))


def unscored_token(tokenizer) -> int:
    """A target the loss skips: the frame encoding's `piece` (the number of frames is given, not modelled);
    -100 (cross_entropy's default, no token) elsewhere."""
    return tokenizer.piece_id if tokenizer.kind == "frames" else -100


def masked_loss(logits: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor, bias: Optional[torch.Tensor],
                ignore_index: int = -100, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of logits (B, T, V) for targets (B, T), with the tokens that cannot follow each input masked."""
    logits = logits.float()
    if bias is not None:
        logits = logits + bias[inputs]  # (B, T, V)
    return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=ignore_index,
                                             reduction=reduction)


@torch.no_grad()
def evaluate_loss(model, ids: np.ndarray, batch_size: int, bptt: int, device,
                  should_stop: Optional[Callable[[], bool]] = None, bias: Optional[torch.Tensor] = None,
                  ignore_index: int = -100, threads=None) -> Optional[float]:
    """Mean cross-entropy in nats per token, the state carried through each stream; None when
    `should_stop()` turned true part-way. `bias` (see next_token_bias) masks tokens that cannot come next;
    targets equal to `ignore_index` are not scored. `threads` (a seqgen.threads.ThreadPolicy) times each
    window."""
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
            with threads.step() if threads is not None else contextlib.nullcontext():
                with autocast(device):
                    logits, state = model(inputs, state)
                total += masked_loss(logits, inputs, targets, bias, ignore_index, "sum").double()
            count += int((targets != ignore_index).sum())
    finally:
        model.train(was_training)
    if count == 0:
        raise SeqgenError("the text to evaluate is too short: it needs at least two tokens")
    return total.item() / count


@torch.no_grad()
def frame_loss(model, ids: np.ndarray, tokenizer, device, batch_size: int = 16, threads=None) -> tuple[float, int]:
    """(nats per frame, frames) of a frame-encoded split: each piece scored on its own from a zero state,
    `piece` as its first input, every frame's tokens (pitches and `frame`) scored with the mask, so the
    figure is the negative log-likelihood of the binary frames under the model, per frame."""
    device = torch.device(device)
    bias = next_token_bias(tokenizer, device)
    starts = np.flatnonzero(ids == tokenizer.piece_id).tolist() + [len(ids)]
    pieces = [ids[a:b] for a, b in zip(starts, starts[1:]) if b - a > 1]
    pieces.sort(key=len)  # pieces of like length share a batch, so little is padding
    was_training = model.training
    model.eval()
    total, frames = 0.0, 0
    try:
        for first in range(0, len(pieces), batch_size):
            group = pieces[first:first + batch_size]
            longest = max(len(p) for p in group)
            batch = torch.full((len(group), longest), tokenizer.piece_id, dtype=torch.long)
            for row, piece in enumerate(group):
                batch[row, :len(piece)] = torch.from_numpy(piece.astype(np.int64))
            batch = batch.to(device)
            inputs, targets = batch[:, :-1], batch[:, 1:]  # padding is `piece`, which is never scored
            with threads.step() if threads is not None else contextlib.nullcontext():
                logits, _ = model(inputs)  # (B, T, V)
                total += float(masked_loss(logits, inputs, targets, bias, tokenizer.piece_id, "sum"))
            frames += int((targets == tokenizer.frame_id).sum())
    finally:
        model.train(was_training)
    if frames == 0:
        raise SeqgenError("the split to evaluate holds no frames")
    return total / frames, frames


def evaluate(lm, split: str = "test", text_file: str | None = None, encoding: str = "utf-8", batch_size: int = 16,
             num_generated: int = 8, seed: int = 0, threads=None) -> dict:
    """Figures of a loaded LanguageModel on its corpus's split, or on any text file; `threads` (a
    seqgen.threads.ThreadPolicy, entered) times the loops."""
    from seqgen.data.corpora import read_text_file
    from seqgen.tasks.language_model.data import load_splits

    if split not in ("val", "test"):
        raise SeqgenError(f"--split must be val or test, not {split!r}")
    tokenizer, config = lm.tokenizer, lm.train_config
    quarters = None
    if text_file is not None:
        if lm.is_music:
            raise SeqgenError("--text needs a text model; a music checkpoint is evaluated on its corpus's splits")
        text, source = read_text_file(Path(text_file), encoding), text_file
        ids, characters = lm.encode(text), len(text)
    else:
        splits = load_splits(config, lm.payload["tokenizer"])
        ids, source = splits.ids[split], f"{config.corpus} ({split} split)"
        characters, quarters = splits.characters.get(split), splits.quarter_notes.get(split)
        if len(ids) < 2:
            why = (f"this run used --{split}-fraction 0" if getattr(config, f"{split}_fraction") == 0 else
                   "the corpus has too few pieces to hold one out for it" if lm.is_music else
                   "the corpus is too short")
            raise SeqgenError(f"the {split} split of {config.corpus} is empty ({why}); score a file with --text FILE")
    if tokenizer.kind == "frames":
        return _frame_figures(lm, ids, source, num_generated, seed, threads)
    streams = stream_count(len(ids), batch_size, config.bptt)
    loss = evaluate_loss(lm.model, ids, batch_size, config.bptt, lm.device, threads=threads)
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
        result["generated_vs_corpus"] = _music_statistics(lm, ids, num_generated, seed, threads)
    return result


def _frame_figures(lm, ids: np.ndarray, source: str, num_generated: int, seed: int, threads=None) -> dict:
    """A piano-roll model: the negative log-likelihood per frame (the figure the literature reports) and
    per token, and statistics of generated pieces beside the split's."""
    loss, frames = frame_loss(lm.model, ids, lm.tokenizer, lm.device, threads=threads)
    scored = int((ids != lm.tokenizer.piece_id).sum())
    result = {"source": source, "tokens": int(len(ids)), "frames": frames, "pieces": int((ids == lm.tokenizer.piece_id).sum()),
              "loss_per_frame": loss, "loss": loss * frames / scored, "perplexity": math.exp(min(loss * frames / scored, 700)),
              "bits_per_token": loss * frames / scored / math.log(2)}
    if num_generated:
        from seqgen.music.stats import compare
        from seqgen.tasks.language_model.music import generate_frame_pieces

        reference = lm.tokenizer.decode_pieces(ids)
        length = int(round(np.mean([p["frames"] for p in reference])))
        generated = generate_frame_pieces(lm.model, lm.tokenizer, [lm.tokenizer.piece_id], num_generated, 12 * length,
                                          Sampling(temperature=1.0), seed=seed, device=lm.device, frames=length,
                                          threads=threads)
        result["generated_vs_corpus"] = {"settings": {"pieces": num_generated, "frames": length, "temperature": 1.0,
                                                      "seed": seed},
                                         **compare(generated, reference, lm.tokenizer.grid)}
    return result


def _music_statistics(lm, ids, count: int, seed: int, threads=None) -> dict:
    """Generate `count` 16-bar pieces and set their statistics beside those of the evaluated pieces."""
    from seqgen.music.stats import compare
    from seqgen.tasks.language_model.music import generate_pieces

    tokenizer = lm.tokenizer
    reference = tokenizer.decode_pieces(ids)
    generated = generate_pieces(lm.model, tokenizer, [tokenizer.index["piece"]], count, 1920, Sampling(temperature=1.0),
                                seed=seed, device=lm.device, bars=16, exact=False, threads=threads)
    return {"settings": {"pieces": count, "bars": 16, "temperature": 1.0, "seed": seed},
            **compare(generated, reference, tokenizer.grid)}
