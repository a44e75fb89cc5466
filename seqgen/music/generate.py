"""Primers and trimming for generated pieces: the tokens a sample continues, and a piece without its primer."""

from __future__ import annotations

from typing import Optional

from seqgen.errors import SeqgenError
from seqgen.music.events import MusicTokenizer


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


def without_first_notes(piece: dict, count: int) -> dict:
    """Drop the primer's notes (the first `count` in token order) and start at the next note's bar."""
    notes = piece["notes"][count:]
    if not notes:
        return {**piece, "notes": []}
    first = min(n[0] for n in notes)
    signatures = [s for s in piece["time_signatures"] if s[0] <= first]
    kept = ([[0, *signatures[-1][1:]]] if signatures else []) + [[b - first, n, d] for b, n, d in piece["time_signatures"] if b > first]
    return {**piece, "notes": [[b - first, *rest] for b, *rest in notes], "time_signatures": kept}
