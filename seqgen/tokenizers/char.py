"""Character tokenizer over Unicode code points, vectorised with numpy so large corpora encode fast."""

from __future__ import annotations

import numpy as np

from seqgen.errors import SeqgenError

_CHUNK = 1 << 22  # characters encoded at a time: bounds the temporary UTF-32 copy to 16 MB


class UnknownCharacterError(SeqgenError):
    pass


def _code_points(text: str):
    """Yield the text's code points as uint32 arrays, one chunk at a time."""
    for start in range(0, len(text), _CHUNK):
        yield np.frombuffer(text[start:start + _CHUNK].encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


class CharTokenizer:
    """One token per Unicode character; the vocabulary is the sorted set of characters seen."""

    kind = "char"

    def __init__(self, chars: str):
        self.chars = chars
        points = np.array([ord(c) for c in chars], dtype=np.int64)
        self._lookup = np.full(int(points.max()) + 1 if len(points) else 1, -1, dtype=np.int32)
        self._lookup[points] = np.arange(len(points), dtype=np.int32)
        # Code points, not a numpy string array: numpy drops trailing NULs, so "\x00" would decode to "".
        self._table = points.astype("<u4")
        # For ASCII text and a vocabulary of at most 256: a byte-to-id table, so encoding runs at memory speed.
        ascii_ids = {int(p): i for i, p in enumerate(points) if p < 128}
        self._ascii_known = bytes(sorted(ascii_ids))
        self._ascii_table = bytes(ascii_ids.get(b, 0) for b in range(256)) if len(points) <= 256 else None

    @classmethod
    def fit(cls, text: str) -> "CharTokenizer":
        seen = np.zeros(0, dtype=np.uint32)
        for points in _code_points(text):
            seen = np.union1d(seen, np.unique(points))
        return cls("".join(chr(int(p)) for p in seen))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    @property
    def dtype(self):
        # The smallest type that holds every id: a 100 MB English corpus takes 100 MB as tokens.
        if self.vocab_size <= 256:
            return np.uint8
        return np.int16 if self.vocab_size <= np.iinfo(np.int16).max else np.int32

    def encode(self, text: str) -> np.ndarray:
        if text.isascii() and self._ascii_table is not None:  # one byte per character and per id: bytes.translate
            data = text.encode("ascii")
            if not data.translate(None, self._ascii_known):  # no character outside the vocabulary
                return np.frombuffer(bytearray(data.translate(self._ascii_table)), dtype=np.uint8)
        out = np.empty(len(text), dtype=self.dtype)
        pos = 0
        for points in _code_points(text):
            inside = points < len(self._lookup)
            ids = np.full(len(points), -1, dtype=np.int32)
            ids[inside] = self._lookup[points[inside]]
            if (ids < 0).any():
                unknown = sorted({chr(int(p)) for p in points[ids < 0]})
                shown = ", ".join(repr(c) for c in unknown[:10]) + (" …" if len(unknown) > 10 else "")
                raise UnknownCharacterError(
                    f"the text has {len(unknown)} character(s) the model never saw in training: {shown}; "
                    "remove or replace them"
                )
            out[pos:pos + len(ids)] = ids
            pos += len(ids)
        return out

    def decode(self, ids) -> str:
        return self._table[np.asarray(ids, dtype=np.int64)].tobytes().decode("utf-32-le", "surrogatepass")

    def label(self, token: int) -> str:
        """One token as text: its character."""
        return self.chars[int(token)]

    def start_id(self) -> int | None:
        """The token a sample without a prime starts from: the newline, where the text has one."""
        return self.chars.index("\n") if "\n" in self.chars else None

    def to_state(self) -> dict:
        return {"kind": self.kind, "chars": self.chars}

    @classmethod
    def from_state(cls, state: dict) -> "CharTokenizer":
        chars = state.get("chars") if isinstance(state, dict) else None
        if not isinstance(chars, str) or len(set(chars)) != len(chars):
            raise SeqgenError("the checkpoint's character tokenizer is damaged (its table is not a string of distinct "
                              "characters); use another checkpoint or train again")
        return cls(chars)
