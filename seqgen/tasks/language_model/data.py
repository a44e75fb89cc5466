"""The language model's data: a corpus (text or music) read, split and tokenised, and the training
split laid out as parallel streams cut into truncated-BPTT windows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from seqgen.data.corpora import load_corpus
from seqgen.data.pianoroll import is_pianoroll_corpus, read_pianoroll
from seqgen.data.text import batchify, split_text, window, windows_per_pass
from seqgen.tasks.language_model.config import TrainConfig


@dataclass
class Splits:
    name: str
    fingerprint: str  # changes when the corpus or its encoding settings change
    tokenizer: object
    ids: dict[str, np.ndarray]
    characters: dict[str, int] = field(default_factory=dict)  # text: characters per split
    quarters: dict[str, float] = field(default_factory=dict)  # music: quarter notes per split
    skipped: list = field(default_factory=list)  # music: (file, reason) for unusable files


def load_splits(config: TrainConfig, tokenizer_state: Optional[dict] = None, progress: bool = True) -> Splits:
    """Read, split and encode the corpus; with `tokenizer_state`, reuse that tokenizer instead of fitting one."""
    from seqgen.music.corpus import is_music_corpus

    if is_pianoroll_corpus(config.corpus):
        return _frame_splits(config, tokenizer_state)
    if is_music_corpus(config.corpus):
        return _music_splits(config, tokenizer_state, progress)
    return _text_splits(config, tokenizer_state)


def _text_splits(config: TrainConfig, tokenizer_state: Optional[dict]) -> Splits:
    from seqgen.tokenizers import fit_tokenizer, tokenizer_from_state

    name, text = load_corpus(config.corpus, config.encoding)
    fingerprint = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    if tokenizer_state is not None:
        tokenizer = tokenizer_from_state(tokenizer_state)
    elif config.tokenizer == "char":
        tokenizer = fit_tokenizer("char", text, config.vocab_size)  # every character of the corpus, so no split has unknowns
    parts = split_text(text, config.val_fraction, config.test_fraction)
    del text  # the parts hold a copy; keep one copy of a large corpus in memory, not two
    if tokenizer_state is None and config.tokenizer != "char":
        tokenizer = fit_tokenizer(config.tokenizer, parts["train"], config.vocab_size)
    ids = {}
    for split in ("train", "val", "test"):
        ids[split] = tokenizer.encode(parts[split])
        parts[split] = len(parts[split])  # the text is no longer needed, only its length
    return Splits(name, fingerprint, tokenizer, ids, characters=parts)


def _music_splits(config: TrainConfig, tokenizer_state: Optional[dict], progress: bool) -> Splits:
    from seqgen.music.corpus import load_pieces, prepare_pieces, split_pieces
    from seqgen.music.events import MusicTokenizer, piece_quarters

    tokenizer = MusicTokenizer.from_state(tokenizer_state) if tokenizer_state else MusicTokenizer(grid=config.grid)
    name, pieces, skipped = load_pieces(config.corpus, tokenizer, progress)
    parts = split_pieces(pieces)
    ids, quarters = {}, {}
    for split, members in parts.items():
        members = prepare_pieces(members, config.transpose, config.augment if split == "train" else 0)
        encoded = [tokenizer.encode_piece(piece) for piece in members]
        ids[split] = np.array([i for piece in encoded for i in piece], dtype=np.int16)
        quarters[split] = sum(piece_quarters(piece, tokenizer.grid) for piece in members)
    digest = hashlib.sha256(repr((sorted(p["name"] for p in pieces), len(pieces), tokenizer.settings_key(),
                                  config.transpose, config.augment)).encode()).hexdigest()[:16]
    return Splits(name, digest, tokenizer, ids, quarters=quarters, skipped=skipped)


def _frame_splits(config: TrainConfig, tokenizer_state: Optional[dict]) -> Splits:
    """A piano-roll JSON corpus, split as the file splits it; each frame is a quarter note, so `quarters`
    counts frames and the loss per quarter note is the loss per frame."""
    from seqgen.errors import SeqgenError
    from seqgen.music.frames import FrameTokenizer, transpose_frames

    if config.transpose != "none":
        raise SeqgenError("--transpose common needs key signatures, and a piano-roll corpus has none; "
                          "use --augment N to train on transposed copies")
    tokenizer = FrameTokenizer.from_state(tokenizer_state) if tokenizer_state else FrameTokenizer()
    name, parts = read_pianoroll(config.corpus)
    ids, frames = {}, {}
    for split, pieces in parts.items():
        if split == "train" and config.augment:
            pieces = [moved for piece in pieces for shift in range(-config.augment, config.augment + 1)
                      if (moved := transpose_frames(piece, shift)) is not None]
        encoded = [i for piece in pieces for i in tokenizer.encode_frames(piece)]
        ids[split] = np.array(encoded, dtype=np.int16)
        frames[split] = float(sum(len(piece) for piece in pieces))
    digest = hashlib.sha256(repr((parts, tokenizer.settings_key(), config.augment)).encode()).hexdigest()[:16]
    return Splits(name, digest, tokenizer, ids, quarters=frames)


class TextStreams:
    """The training split as `batch_size` streams, walked window by window; a new pass starts the
    streams at another offset, so window borders move between epochs."""

    def __init__(self, ids: np.ndarray, config: TrainConfig, device: torch.device):
        self.tokens = torch.from_numpy(ids).to(device)  # the compact dtype; windows become int64 one at a time
        self.config = config
        self.epoch = -1
        self.streams = None
        self.per_epoch = 0

    def layout(self, epoch: int) -> None:
        config = self.config
        offset = int(torch.randint(config.bptt, (1,), generator=torch.Generator().manual_seed(config.seed + epoch)))
        offset = min(offset, max(0, self.tokens.numel() - 2 * config.batch_size))
        self.streams = batchify(self.tokens, config.batch_size, offset)  # (B, L)
        self.per_epoch = windows_per_pass(self.streams.size(1), config.bptt)
        self.epoch = epoch

    def window(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets (B, T) of window `index` of pass `epoch`."""
        if epoch != self.epoch:
            self.layout(epoch)
        return window(self.streams, index, self.config.bptt)

    def windows_in(self, epoch: int) -> int:
        if epoch != self.epoch:
            self.layout(epoch)
        return self.per_epoch
