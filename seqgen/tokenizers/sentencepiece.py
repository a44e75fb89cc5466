"""Subword tokenizers (BPE and unigram) trained with sentencepiece; the model travels as bytes."""

from __future__ import annotations

import io
import re
import threading

import numpy as np

from seqgen.errors import SeqgenError
from seqgen.threads import usable_cpus

NEWLINE = "\n"
_CHUNK = 1 << 18  # characters encoded per call: small, so the Python lists of one call stay small
TRAINING_LINES = 500_000  # enough lines to learn the vocabulary of a large corpus


def _training_lines(text: str, limit: int):
    """Up to about `limit` non-blank lines spread evenly over the text, read a chunk at a time, so a
    large corpus is never held twice as a list of lines."""
    stride = max(1, (text.count(NEWLINE) + 1) // limit)
    index, start = 0, 0
    while start < len(text):
        end = text.find(NEWLINE, min(len(text), start + _CHUNK))
        end = len(text) if end < 0 else end + 1
        for line in text[start:end].split(NEWLINE):
            if index % stride == 0 and line.strip():
                yield line
            index += 1
        start = end


class SentencePieceTokenizer:
    """sentencepiece over running text: lines are encoded apart and joined by a newline token.

    Normalisation is off and unseen characters fall back to UTF-8 bytes, so decode(encode(text))
    gives back the text exactly and no prime text is ever out of vocabulary.
    """

    def __init__(self, kind: str, model: bytes):
        import sentencepiece as spm

        self.kind = kind
        self.model = model
        self._sp = spm.SentencePieceProcessor(model_proto=model)
        self._newline = self._sp.piece_to_id(NEWLINE)

    @classmethod
    def fit(cls, text: str, kind: str, vocab_size: int) -> "SentencePieceTokenizer":
        if not text.strip():
            raise SeqgenError("the training text has no non-blank lines to train a sentencepiece model on")
        return cls.fit_lines(_training_lines(text, TRAINING_LINES), kind, vocab_size)

    @classmethod
    def fit_lines(cls, lines, kind: str, vocab_size: int) -> "SentencePieceTokenizer":
        """Train on an iterable of lines (at most about TRAINING_LINES of them are needed)."""
        import sentencepiece as spm

        model = io.BytesIO()
        try:
            interruptible(
                spm.SentencePieceTrainer.train,
                sentence_iterator=iter(lines),
                model_writer=model,
                model_type=kind,
                vocab_size=vocab_size,
                character_coverage=1.0,
                byte_fallback=True,
                normalization_rule_name="identity",
                remove_extra_whitespaces=False,
                add_dummy_prefix=False,
                allow_whitespace_only_pieces=True,
                split_digits=True,
                user_defined_symbols=[NEWLINE],
                max_sentence_length=1 << 16,
                num_threads=usable_cpus().usable,  # the CPUs this process may use (affinity, cgroup quota)
                minloglevel=2,
            )
        except RuntimeError as error:
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            too_large = re.search(r"Vocabulary size too high.*value <= (\d+)", message)
            too_small = re.search(r"smaller than required_chars\. \d+ vs (\d+)", message)
            if too_large:
                raise SeqgenError(f"--vocab-size {vocab_size} is too large for this corpus; use at most {too_large.group(1)}") from None
            if too_small:
                raise SeqgenError(
                    f"--vocab-size {vocab_size} is too small: the corpus's characters and the 256 byte pieces need "
                    f"at least {too_small.group(1)}"
                ) from None
            if "sentences_.empty()" in message:
                raise SeqgenError("sentencepiece found no line it could learn from: it skips lines over 65,536 "
                                  "characters; break the text into lines, or use --tokenizer char") from None
            if "eos_id" in message or "bos_id" in message or "unk_id" in message:
                raise SeqgenError(f"--vocab-size {vocab_size} is too small for a {kind} model: it needs room for its "
                                  "special pieces, the newline and the 256 byte pieces; use 300 or more") from None
            raise SeqgenError(f"sentencepiece could not train a {kind} model: {message}") from None
        return cls(kind, model.getvalue())

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    @property
    def dtype(self):
        return np.int16 if self.vocab_size <= np.iinfo(np.int16).max else np.int32

    def encode(self, text: str) -> np.ndarray:
        parts = []
        start = 0
        while start < len(text):
            # Chunks end at a newline, so memory stays bounded and no line is cut in two.
            end = text.find(NEWLINE, min(len(text), start + _CHUNK))
            end = len(text) if end < 0 else end + 1
            lines = text[start:end].split(NEWLINE)
            start = end
            flat: list[int] = []
            for index, ids in enumerate(self._sp.encode(lines)):
                flat.extend(ids)
                if index < len(lines) - 1:
                    flat.append(self._newline)
            parts.append(np.array(flat, dtype=self.dtype))
        return np.concatenate(parts) if parts else np.zeros(0, dtype=self.dtype)

    def decode(self, ids) -> str:
        return self._sp.decode([int(i) for i in ids])

    def start_id(self) -> int | None:
        """The token a sample without a prime starts from: the newline, where the vocabulary has one."""
        return self._newline

    def label(self, token: int) -> str:
        """One token as it reads in running text (its leading ▁ as a space), e.g. to label it on a page."""
        return "\n" if token == self._newline else self._sp.id_to_piece(int(token)).replace("\u2581", " ")

    def to_state(self) -> dict:
        return {"kind": self.kind, "model": self.model}

    @classmethod
    def from_state(cls, state: dict) -> "SentencePieceTokenizer":
        """The tokenizer a checkpoint holds; a model that is not one fit() makes raises SeqgenError."""
        import sentencepiece as spm

        kind = state.get("kind") if isinstance(state, dict) else None
        model = state.get("model") if isinstance(state, dict) else None
        damaged = "the checkpoint's sentencepiece tokenizer is damaged ({}); use another checkpoint or train again"
        if kind not in ("bpe", "unigram") or not isinstance(model, (bytes, bytearray)) or not model:
            raise SeqgenError(damaged.format("no bpe or unigram model in it"))
        processor = spm.SentencePieceProcessor()
        try:
            processor.LoadFromSerializedProto(bytes(model))
        except (RuntimeError, TypeError, ValueError, OSError):
            raise SeqgenError(damaged.format("its model cannot be read")) from None
        # fit() always makes a newline piece and the 256 byte pieces that let any text round-trip.
        unknown = processor.unk_id()
        if processor.get_piece_size() == 0 or processor.piece_to_id(NEWLINE) == unknown or any(
                processor.piece_to_id(f"<0x{byte:02X}>") == unknown for byte in range(256)):
            raise SeqgenError(damaged.format("its model lacks the newline and byte pieces seqgen trains"))
        return cls(kind, bytes(model))


def interruptible(work, *args, **kwargs):
    """`work(*args, **kwargs)` in a thread of its own while this one waits in short steps, so that Ctrl-C
    stops a long call into C++ (sentencepiece trains for seconds to minutes with the GIL released) at once:
    Python runs a signal's handler only between its own steps, here every 0.1 s. After an interrupt the
    thread finishes unwatched, and its result is dropped."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = work(*args, **kwargs)
        except BaseException as error:  # handed to the waiting thread, which raises it
            outcome["error"] = error

    thread = threading.Thread(target=run, name="sentencepiece-trainer", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
