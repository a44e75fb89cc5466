"""The music event vocabulary: a piece as bar / position / part / pitch / duration tokens.

A *piece* is plain data (JSON-safe), independent of music21:
    {"name": str, "notes": [[bar, pos, part, pitch, dur], ...],   # pos and dur in grid steps
     "time_signatures": [[bar, numerator, denominator], ...], "key_sharps": int | None,
     "tempo": float | None}
Tokens of one piece, with grid 4 (sixteenth notes):
    piece ts_3/4 key_1 tempo_96 bar pos_0 part_0 pitch_67 dur_4 part_1 pitch_62 dur_4 pos_4 … bar … end
A position token is written once for all notes starting there; notes at one position are ordered
by part then pitch, so the encoding of a piece is unique. Polyphony and parts survive.
"""

from __future__ import annotations

ENCODING_VERSION = 1
TIME_SIGNATURES = [(n, d) for d in (2, 4, 8) for n in range(1, 13)]
TEMPO_BINS = list(range(40, 216, 8))  # beats per minute, nearest bin
MAX_PARTS = 8
_STATE_LIMITS = (96, 128, 64)  # grid, max_duration, max_bar: beyond these a saved state is damaged, not a choice


def transpose_sharps(sharps: int, semitones: int) -> int:
    """Key signature after transposing: each semitone up is seven steps round the circle of fifths."""
    return (sharps + 7 * semitones + 6) % 12 - 6


def semitones_to_c(sharps: int) -> int:
    """The shift in -6..5 that brings a key signature to no sharps or flats (C major / A minor)."""
    return (-7 * sharps + 6) % 12 - 6


def transpose_piece(piece: dict, semitones: int) -> dict | None:
    """The piece moved by `semitones`, or None when a note would leave the MIDI range."""
    notes = [[b, p, v, pitch + semitones, d] for b, p, v, pitch, d in piece["notes"]]
    if any(not 0 <= n[3] <= 127 for n in notes):
        return None
    sharps = piece.get("key_sharps")
    return {**piece, "notes": notes, "key_sharps": None if sharps is None else transpose_sharps(sharps, semitones)}


class MusicTokenizer:
    """A fixed vocabulary (it depends only on the grid), so it needs no fitting."""

    kind = "music"

    def __init__(self, grid: int = 4, max_duration: int = 8, max_bar: int = 12):
        self.grid = grid  # steps per quarter note
        self.max_duration = max_duration  # in quarter notes; longer notes are cut
        self.max_bar = max_bar  # longest bar, in quarter notes
        tokens = ["piece", "end", "bar"]
        tokens += [f"ts_{n}/{d}" for n, d in TIME_SIGNATURES]
        tokens += [f"key_{s}" for s in range(-7, 8)]
        tokens += [f"tempo_{t}" for t in TEMPO_BINS]
        tokens += [f"pos_{p}" for p in range(max_bar * grid)]
        tokens += [f"part_{v}" for v in range(MAX_PARTS)]
        tokens += [f"pitch_{p}" for p in range(128)]
        tokens += [f"dur_{d}" for d in range(1, max_duration * grid + 1)]
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def start_id(self) -> int:
        """The token a sample without a primer starts from: `piece`, the start of a piece."""
        return self.index["piece"]

    def label(self, token: int) -> str:
        """One token's name, e.g. pitch_67."""
        return self.tokens[int(token)]

    def to_state(self) -> dict:
        return {"kind": self.kind, "version": ENCODING_VERSION, "grid": self.grid,
                "max_duration": self.max_duration, "max_bar": self.max_bar}

    @classmethod
    def from_state(cls, state: dict) -> "MusicTokenizer":
        """The tokenizer a checkpoint holds; settings out of range or of the wrong type raise SeqgenError."""
        from seqgen.errors import SeqgenError

        if not isinstance(state, dict):
            raise SeqgenError("the checkpoint's music tokenizer is damaged (not a mapping); use another checkpoint or train again")
        version = state.get("version", ENCODING_VERSION)
        if type(version) is int and version > ENCODING_VERSION:
            raise SeqgenError(f"the checkpoint's music encoding is version {version}, newer than this seqgen reads "
                              f"({ENCODING_VERSION}); upgrade seqgen")
        settings = [state.get(name) for name in ("grid", "max_duration", "max_bar")]
        if type(version) is not int or version < 1 or not all(
                type(value) is int and 1 <= value <= limit for value, limit in zip(settings, _STATE_LIMITS)):
            raise SeqgenError("the checkpoint's music tokenizer is damaged (its version, grid, max_duration or max_bar "
                              "is missing or out of range); use another checkpoint or train again")
        return cls(*settings)

    def settings_key(self) -> str:
        return f"v{ENCODING_VERSION}-g{self.grid}-d{self.max_duration}-b{self.max_bar}"

    # -- piece → tokens -------------------------------------------------------------------
    def encode_piece(self, piece: dict, end: bool = True) -> list[int]:
        out = ["piece"]
        signatures = {b: (n, d) for b, n, d in piece.get("time_signatures", [])}
        if piece.get("key_sharps") is not None:
            out.append(f"key_{max(-7, min(7, piece['key_sharps']))}")
        if piece.get("tempo"):
            out.append(f"tempo_{min(TEMPO_BINS, key=lambda t: abs(t - piece['tempo']))}")
        by_bar: dict[int, list] = {}
        for note in sorted(piece["notes"], key=lambda n: (n[0], n[1], n[2], n[3])):
            by_bar.setdefault(note[0], []).append(note)
        last_bar = max([*by_bar, *signatures, -1])
        for bar in range(last_bar + 1):
            out.append("bar")
            if bar in signatures and f"ts_{signatures[bar][0]}/{signatures[bar][1]}" in self.index:
                out.append(f"ts_{signatures[bar][0]}/{signatures[bar][1]}")
            position = None
            for _, pos, part, pitch, dur in by_bar.get(bar, []):
                if pos != position:
                    out.append(f"pos_{pos}")
                    position = pos
                out += [f"part_{min(part, MAX_PARTS - 1)}", f"pitch_{pitch}", f"dur_{max(1, min(dur, self.max_duration * self.grid))}"]
        if end:
            out.append("end")
        return [self.index[t] for t in out]

    # -- tokens → piece -------------------------------------------------------------------
    def decode_pieces(self, ids) -> list[dict]:
        """Read any token sequence as pieces; events that make no sense where they stand are dropped."""
        pieces, current = [], None
        bar, pos, part, pitch = -1, 0, 0, None
        for i in ids:
            token = self.tokens[int(i)] if 0 <= int(i) < len(self.tokens) else ""
            kind, _, value = token.partition("_")
            if token in ("piece", "end") or current is None:
                if current is not None and current["notes"]:
                    pieces.append(current)
                current = {"name": f"piece {len(pieces) + 1}", "notes": [], "time_signatures": [],
                           "key_sharps": None, "tempo": None}
                bar, pos, part, pitch = -1, 0, 0, None
                if token in ("piece", "end"):
                    continue
            if token == "bar":
                bar, pos, pitch = bar + 1, 0, None
            elif kind == "ts":
                n, d = value.split("/")
                current["time_signatures"] = [s for s in current["time_signatures"] if s[0] != max(bar, 0)]
                current["time_signatures"].append([max(bar, 0), int(n), int(d)])
            elif kind == "key" and not current["notes"]:
                current["key_sharps"] = int(value)
            elif kind == "tempo" and not current["notes"]:
                current["tempo"] = float(value)
            elif kind == "pos":
                pos, pitch = int(value), None
            elif kind == "part":
                part, pitch = int(value), None
            elif kind == "pitch":
                pitch = int(value)
            elif kind == "dur" and pitch is not None:
                current["notes"].append([max(bar, 0), pos, part, pitch, int(value)])
                pitch = None
        if current is not None and current["notes"]:
            pieces.append(current)
        return pieces

    def decode_piece(self, ids) -> dict:
        """All notes of a token sequence as one piece (a second `piece` token starts over)."""
        pieces = self.decode_pieces(ids)
        return pieces[-1] if pieces else {"name": "piece", "notes": [], "time_signatures": [], "key_sharps": None, "tempo": None}

    def decode(self, ids) -> str:
        """Tokens as readable text (for streaming and debugging)."""
        return " ".join(self.tokens[int(i)] if 0 <= int(i) < len(self.tokens) else "?" for i in ids) + " "


def bar_starts(piece: dict, bars: int) -> list[float]:
    """The offset in quarter notes of each of the first `bars` + 1 bars (the last: where bar `bars` - 1 ends)."""
    signatures = {b: (n, d) for b, n, d in piece.get("time_signatures", [])}
    starts, start, length = [], 0.0, 4.0
    for bar in range(bars + 1):
        if bar in signatures:
            n, d = signatures[bar]
            length = n * 4 / d
        starts.append(start)
        start += length
    return starts


def note_times(piece: dict, grid: int) -> list[tuple[float, float, int, int]]:
    """(offset, duration) in quarter notes, part and pitch of every note, bars laid end to end."""
    starts = bar_starts(piece, max([n[0] for n in piece["notes"]] + [0]) + 1)
    return [(starts[b] + p / grid, d / grid, v, pitch) for b, p, v, pitch, d in piece["notes"]]


def piece_end(piece: dict, grid: int) -> float:
    """Where the piece ends, in quarter notes: its last note's end, or later where the piece says it lasts longer
    (`bars`: a generated piece of that many bars, its last ones perhaps silent; `frames`: a piano roll's
    quarter-note frames)."""
    end = max((o + d for o, d, _, _ in note_times(piece, grid)), default=0.0)
    if piece.get("bars"):
        end = max(end, bar_starts(piece, piece["bars"])[-1])
    if piece.get("frames"):
        end = max(end, float(piece["frames"]))
    return end


def piece_quarters(piece: dict, grid: int) -> float:
    times = note_times(piece, grid)
    return max((o + d for o, d, _, _ in times), default=0.0) - min((o for o, _, _, _ in times), default=0.0)
