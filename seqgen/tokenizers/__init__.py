"""Tokenizers: fit on training text, encode to numpy arrays, decode, and round-trip through plain state."""

from __future__ import annotations

from seqgen.errors import SeqgenError
from seqgen.tokenizers.char import CharTokenizer
from seqgen.tokenizers.sentencepiece import SentencePieceTokenizer

KINDS = ("char", "bpe", "unigram")


def fit_tokenizer(kind: str, text: str, vocab_size: int):
    if kind == "char":
        return CharTokenizer.fit(text)
    if kind in ("bpe", "unigram"):
        return SentencePieceTokenizer.fit(text, kind, vocab_size)
    raise SeqgenError(f"unknown tokenizer {kind!r}; choose one of {', '.join(KINDS)}")


def tokenizer_from_state(state: dict):
    """The tokenizer a checkpoint holds; a state of any other shape raises SeqgenError."""
    if not isinstance(state, dict):
        raise SeqgenError("the checkpoint's tokenizer is damaged (its state is not a mapping); "
                          "use another checkpoint or train again")
    kind = state.get("kind")
    if not isinstance(kind, str):
        raise SeqgenError("the checkpoint's tokenizer is damaged (it names no kind); use another checkpoint or train again")
    if kind == "char":
        return CharTokenizer.from_state(state)
    if kind in ("bpe", "unigram"):
        return SentencePieceTokenizer.from_state(state)
    if kind == "music":
        from seqgen.music.events import MusicTokenizer

        return MusicTokenizer.from_state(state)
    if kind == "frames":
        from seqgen.music.frames import FrameTokenizer

        return FrameTokenizer.from_state(state)
    raise SeqgenError(f"the checkpoint's tokenizer kind {kind[:40]!r} is unknown to this seqgen; "
                      f"it reads {', '.join(KINDS)}, music and frames")
