"""Primers and trimming for generated pieces: the tokens a sample continues, and a piece without its primer."""

from __future__ import annotations

from typing import Optional

from seqgen.errors import SeqgenError
from seqgen.music.events import MusicTokenizer
from seqgen.music.frames import FrameTokenizer, notes_to_frames

LONGEST_BAR = 64  # quarter notes: a primer's bar up to this long keeps all its notes (the event tokenizer's limit)


def primer_tokens(tokenizer: MusicTokenizer, prime_file: Optional[str], prime_text: str) -> list[int]:
    """Token ids a sample continues: a parsed MIDI/MusicXML/ABC file, token names, or just `piece`."""
    if prime_file:
        from seqgen.music.scores import parse_file

        pieces, reason = parse_file(prime_file, tokenizer.grid, tokenizer.max_bar)
        if not pieces:
            raise SeqgenError(f"cannot use the primer {prime_file}: {reason}")
        return tokenizer.encode_piece(pieces[0], end=False)
    if prime_text.strip():
        unknown = [t for t in prime_text.split() if t not in tokenizer.index]
        if unknown:
            raise SeqgenError(f"--prime for a music model takes event tokens such as 'piece ts_3/4 key_0'; "
                              f"unknown: {', '.join(unknown[:5])}")
        names = prime_text.split()
        return [tokenizer.index[t] for t in (names if names[0] == "piece" else ["piece", *names])]
    return [tokenizer.index["piece"]]


def frame_primer_tokens(tokenizer: FrameTokenizer, prime_file: Optional[str], prime_text: str,
                        flag: str = "--prime") -> list[int]:
    """Token ids a piano-roll sample continues (or inspect reads): a MIDI/MusicXML/ABC file's notes as
    quarter-note frames, frame token names (`pitch_60 pitch_64 frame …`, checked against the frame rule), or
    just `piece`."""
    if prime_file:
        from seqgen.music.scores import parse_file

        pieces, reason = parse_file(prime_file, 1, LONGEST_BAR)
        if not pieces:
            raise SeqgenError(f"cannot use the primer {prime_file}: {reason}")
        return tokenizer.encode_frames(notes_to_frames(pieces[0], 1))
    names = prime_text.split()
    unknown = [t for t in names if t not in tokenizer.index]
    if unknown:
        raise SeqgenError(f"{flag} for a piano-roll model takes frame tokens such as 'pitch_60 pitch_64 frame'; "
                          f"unknown: {', '.join(unknown[:5])}")
    ids = [tokenizer.index[t] for t in names if t != "piece"]
    allowed = tokenizer.next_token_mask()
    for before, after in zip([tokenizer.piece_id, *ids], ids):
        if not allowed[before, after]:
            raise SeqgenError(f"{flag}: {tokenizer.tokens[after]} cannot follow {tokenizer.tokens[before]} "
                              "(a frame lists its pitches in ascending order, then `frame`)")
    return [tokenizer.piece_id, *ids]


def without_first_notes(piece: dict, count: int) -> dict:
    """Drop the primer's notes (the first `count` in token order) and start at the next note's bar."""
    notes = piece["notes"][count:]
    if not notes:
        return {**piece, "notes": []}
    first = min(n[0] for n in notes)
    signatures = [s for s in piece["time_signatures"] if s[0] <= first]
    kept = ([[0, *signatures[-1][1:]]] if signatures else []) + [[b - first, n, d] for b, n, d in piece["time_signatures"] if b > first]
    shifted = {**piece, "notes": [[b - first, *rest] for b, *rest in notes], "time_signatures": kept}
    if piece.get("bars"):
        shifted["bars"] = piece["bars"] - first
    return shifted
