"""Generating pieces: sample event tokens, stop at a bar count or the end token, decode to pieces."""

from __future__ import annotations

from typing import Optional

import torch

from seqgen.errors import SeqgenError
from seqgen.music.events import MusicTokenizer
from seqgen.sample import generate


def primer_tokens(tokenizer: MusicTokenizer, prime_file: Optional[str], prime_text: str) -> list[int]:
    """Token ids a sample continues: a parsed MIDI/MusicXML/ABC file, token names, or just `piece`."""
    if prime_file:
        from seqgen.music.scores import parse_file

        pieces, reason = parse_file(prime_file, tokenizer.grid, tokenizer.max_bar)
        if not pieces:
            raise SeqgenError(f"the primer {prime_file} has no usable notes ({reason})")
        return tokenizer.encode_piece(pieces[0], end=False)
    if prime_text:
        unknown = [t for t in prime_text.split() if t not in tokenizer.index]
        if unknown:
            raise SeqgenError(f"--prime for a music model takes event tokens such as 'piece ts_3/4 key_0'; "
                              f"unknown: {', '.join(unknown[:5])}")
        names = prime_text.split()
        return [tokenizer.index[t] for t in (names if names[0] == "piece" else ["piece", *names])]
    return [tokenizer.index["piece"]]


def generate_pieces(model, tokenizer: MusicTokenizer, primer: list[int], num_samples: int, length: int,
                    bars: Optional[int], temperature: float, top_k: Optional[int], top_p: Optional[float],
                    seed: int, device, keep_primer: bool = True) -> list[dict]:
    """`num_samples` pieces continuing `primer`, generated as one batch.

    A sample stops at its `end` token, at a new `piece` token, after `bars` new bars, or after
    `length` tokens, whichever comes first.
    """
    bar, end, start = tokenizer.index["bar"], tokenizer.index["end"], tokenizer.index["piece"]
    prime = torch.tensor(primer, dtype=torch.long, device=device).repeat(num_samples, 1)  # (N, P)
    generator = torch.Generator(device=device).manual_seed(seed)
    rows: list[list[int]] = [[] for _ in range(num_samples)]
    done = [False] * num_samples
    new_bars = [0] * num_samples
    for token in generate(model, prime, length, temperature, top_k, top_p, generator):
        for index, value in enumerate(token.tolist()):
            if done[index]:
                continue
            if value in (end, start):
                done[index] = True
                continue
            if value == bar:
                new_bars[index] += 1
                if bars is not None and new_bars[index] > bars:
                    done[index] = True
                    continue
            rows[index].append(value)
        if all(done):
            break
    primer_notes = len(tokenizer.decode_piece(primer)["notes"])
    pieces = []
    for index, row in enumerate(rows, 1):
        piece = tokenizer.decode_piece(primer + row)
        if not keep_primer:
            piece = _without_first_notes(piece, primer_notes)
        piece["name"] = f"sample {index}"
        pieces.append(piece)
    return pieces


def _without_first_notes(piece: dict, count: int) -> dict:
    """Drop the primer's notes (the first `count` in token order) and start at the next note's bar."""
    notes = piece["notes"][count:]
    if not notes:
        return {**piece, "notes": []}
    first = min(n[0] for n in notes)
    signatures = [s for s in piece["time_signatures"] if s[0] <= first]
    kept = ([[0, *signatures[-1][1:]]] if signatures else []) + [[b - first, n, d] for b, n, d in piece["time_signatures"] if b > first]
    return {**piece, "notes": [[b - first, *rest] for b, *rest in notes], "time_signatures": kept}
