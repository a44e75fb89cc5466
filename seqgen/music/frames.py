"""Frame tokens for piano-roll corpora: each frame (a quarter note) is its pitches in ascending order, then `frame`.

    piece pitch_48 pitch_55 pitch_64 pitch_72 frame pitch_50 pitch_55 pitch_65 pitch_71 frame … (next piece)

The encoding is one-to-one with the 88-key binary frame. A pitch may only follow a lower pitch of the
same frame, so scoring and sampling mask the tokens that cannot come next (`next_token_mask`): the model
is then a proper distribution over frames, and the sum of a frame's token log-probabilities is the
log-likelihood of the frame. `piece` starts a piece and is never predicted.
"""

from __future__ import annotations

import numpy as np

from seqgen.errors import SeqgenError

FRAMES_VERSION = 1
LOWEST, HIGHEST = 21, 108  # the 88 keys (as seqgen.data.pianoroll reads them)


class FrameTokenizer:
    """A fixed vocabulary: `piece`, `frame` (the end of a frame) and the 88 piano keys."""

    kind = "frames"
    grid = 1  # a frame is one quarter note: pieces decoded from frames use a grid of one step per quarter

    def __init__(self):
        self.tokens = ["piece", "frame"] + [f"pitch_{p}" for p in range(LOWEST, HIGHEST + 1)]
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.piece_id, self.frame_id = self.index["piece"], self.index["frame"]

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def start_id(self) -> int:
        """The token a sample without a primer starts from: `piece`, the start of a piece."""
        return self.piece_id

    def label(self, token: int) -> str:
        """One token's name, e.g. pitch_67."""
        return self.tokens[int(token)]

    def to_state(self) -> dict:
        return {"kind": self.kind, "version": FRAMES_VERSION, "lowest": LOWEST, "highest": HIGHEST}

    @classmethod
    def from_state(cls, state: dict) -> "FrameTokenizer":
        if not isinstance(state, dict) or (state.get("lowest"), state.get("highest")) != (LOWEST, HIGHEST):
            raise SeqgenError("the checkpoint's frame tokenizer is damaged (its key range is not 21-108); "
                              "use another checkpoint or train again")
        version = state.get("version")
        if type(version) is not int or version < 1:
            raise SeqgenError("the checkpoint's frame tokenizer is damaged (no version); use another checkpoint or train again")
        if version > FRAMES_VERSION:
            raise SeqgenError(f"the checkpoint's frame encoding is version {version}, newer than this seqgen reads "
                              f"({FRAMES_VERSION}); upgrade seqgen")
        return cls()

    def settings_key(self) -> str:
        return f"frames-v{FRAMES_VERSION}"

    def pitch_id(self, pitch: int) -> int:
        return self.index[f"pitch_{pitch}"]

    def pitch_of(self, token: int) -> int | None:
        return token - 2 + LOWEST if 2 <= token < self.vocab_size else None

    # -- frames ↔ tokens --------------------------------------------------------------------
    def encode_frames(self, frames: list[list[int]]) -> list[int]:
        """One piece: `piece`, then each frame's pitches ascending and `frame`."""
        out = [self.piece_id]
        for frame in frames:
            out += [self.pitch_id(p) for p in sorted(set(frame))]
            out.append(self.frame_id)
        return out

    def decode_frames(self, ids) -> list[list[list[int]]]:
        """Pieces as lists of frames; a pitch not above the frame's previous one, or an unfinished last frame, is dropped."""
        pieces: list[list[list[int]]] = []
        frames, current = None, []
        for token in ids:
            token = int(token)
            if token == self.piece_id or frames is None:
                if frames:
                    pieces.append(frames)
                frames, current = [], []
                if token == self.piece_id:
                    continue
            if token == self.frame_id:
                frames.append(current)
                current = []
            else:
                pitch = self.pitch_of(token)
                if pitch is not None and (not current or pitch > current[-1]):
                    current.append(pitch)
        if frames:
            pieces.append(frames)
        return pieces

    def decode_pieces(self, ids) -> list[dict]:
        return [frames_to_piece(frames, f"piece {n}") for n, frames in enumerate(self.decode_frames(ids), 1)]

    def decode_piece(self, ids) -> dict:
        pieces = self.decode_pieces(ids)
        return pieces[-1] if pieces else frames_to_piece([], "piece")

    def decode(self, ids) -> str:
        return " ".join(self.tokens[int(i)] if 0 <= int(i) < self.vocab_size else "?" for i in ids) + " "

    def next_token_mask(self) -> np.ndarray:
        """(V, V) booleans: [a, b] is True when token b may follow token a.

        After `piece` or `frame` any pitch or `frame` (an empty frame) may come; after a pitch, only a
        higher pitch or `frame`. `piece` never comes next: the number of frames is given, not modelled.
        """
        allowed = np.zeros((self.vocab_size, self.vocab_size), dtype=bool)
        allowed[:, self.frame_id] = True
        allowed[self.piece_id, 2:] = True
        allowed[self.frame_id, 2:] = True
        for token in range(2, self.vocab_size):
            allowed[token, token + 1:] = True
        return allowed


def transpose_frames(frames: list[list[int]], semitones: int) -> list[list[int]] | None:
    """The piece moved by `semitones`, or None when a note would leave the 88 keys."""
    moved = [[p + semitones for p in frame] for frame in frames]
    if any(not LOWEST <= p <= HIGHEST for frame in moved for p in frame):
        return None
    return moved


def frames_to_piece(frames: list[list[int]], name: str) -> dict:
    """Quarter-note frames as a piece (grid 1, bars of 4/4); a pitch sounding in consecutive frames is one held note."""
    notes, open_notes = [], {}  # pitch → [start frame, length]
    for index, frame in enumerate([*frames, []]):
        sounding = set(frame)
        for pitch in list(open_notes):
            if pitch not in sounding:
                start, length = open_notes.pop(pitch)
                notes.append([start // 4, start % 4, 0, pitch, length])
        for pitch in sounding:
            if pitch in open_notes:
                open_notes[pitch][1] += 1
            else:
                open_notes[pitch] = [index, 1]
    return {"name": name, "notes": sorted(notes), "time_signatures": [[0, 4, 4]], "key_sharps": None, "tempo": None,
            "frames": len(frames)}


def piece_to_frames(piece: dict) -> list[list[int]]:
    """The frames of a piece made by frames_to_piece (grid 1, 4/4): the pitches sounding in each quarter note."""
    frames = [set() for _ in range(piece.get("frames", 0))]
    for bar, pos, _, pitch, length in piece["notes"]:
        start = bar * 4 + pos
        for index in range(start, start + length):
            while len(frames) <= index:
                frames.append(set())
            frames[index].add(pitch)
    return [sorted(frame) for frame in frames]


def notes_to_frames(piece: dict, grid: int) -> list[list[int]]:
    """Any piece (read from a file, `grid` steps per quarter note) as quarter-note frames: the keys sounding in
    each quarter note, bars laid end to end. A note outside the 88 keys is one line, never dropped unsaid."""
    import math

    from seqgen.music.events import note_times

    times = note_times(piece, grid)
    outside = sorted({pitch for *_, pitch in times if not LOWEST <= pitch <= HIGHEST})
    if outside:
        raise SeqgenError(f"{piece.get('name', 'the piece')} has notes outside the piano's 88 keys ({LOWEST}-{HIGHEST}): "
                          f"{', '.join(map(str, outside[:5]))}; a piano-roll model reads only those keys")
    frames = [set() for _ in range(math.ceil(max((o + d for o, d, _, _ in times), default=0.0) - 1e-9))]
    for offset, duration, _, pitch in times:
        first = math.floor(offset + 1e-9)
        for index in range(first, max(first + 1, math.ceil(offset + duration - 1e-9))):
            frames[index].add(pitch)
    return [sorted(frame) for frame in frames]
