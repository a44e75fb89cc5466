"""The language model's data: a corpus (text or music) read, split and tokenised, and the training
split laid out as parallel streams cut into truncated-BPTT windows."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from seqgen.data.pianoroll import is_pianoroll_corpus, read_pianoroll
from seqgen.data.text import batchify, window, windows_per_pass
from seqgen.errors import SeqgenError
from seqgen.tasks.language_model.config import TrainConfig


@dataclass
class Splits:
    name: str
    fingerprint: str  # changes when the corpus or its encoding settings change
    tokenizer: object
    ids: dict[str, np.ndarray]
    characters: dict[str, int] = field(default_factory=dict)  # text: characters per split
    quarter_notes: dict[str, float] = field(default_factory=dict)  # music: quarter notes per split (a frame is one)
    skipped: list = field(default_factory=list)  # music: (file, reason) for unusable files


# The options only one kind of corpus reads; a value other than the default given for another kind would vanish.
MUSIC_OPTIONS = ("grid", "transpose", "augment")
TEXT_OPTIONS = ("encoding", "tokenizer", "vocab_size")


def check_corpus_options(config: TrainConfig) -> None:
    """One line for an option the corpus does not read: a music option for a text, a text option for music, the
    grid for a piano roll (one frame a quarter note), --vocab-size for --tokenizer char."""
    from seqgen.config import flag
    from seqgen.data.corpora import REGISTRY, check_task
    from seqgen.music.corpus import is_music_corpus

    if config.corpus in REGISTRY:  # a data set another task reads is named as such, before its options are judged
        check_task(REGISTRY[config.corpus], "language-model")
    kind = "piano-roll" if is_pianoroll_corpus(config.corpus) else "music" if is_music_corpus(config.corpus) else "text"
    unread = {"text": MUSIC_OPTIONS + (("vocab_size",) if config.tokenizer == "char" else ()),
              "music": TEXT_OPTIONS, "piano-roll": TEXT_OPTIONS + ("grid",)}[kind]
    if kind == "text" and config.corpus in REGISTRY:  # a built-in text is UTF-8
        unread, kind = unread + ("encoding",), "built-in text"
    defaults = TrainConfig()
    changed = [name for name in unread if getattr(config, name) != getattr(defaults, name)]
    if changed == ["vocab_size"] and kind == "text":
        raise SeqgenError("--vocab-size does not apply to --tokenizer char (its vocabulary is the corpus's "
                          "characters); use --tokenizer bpe or unigram, or leave it out")
    if changed:
        flags = ", ".join(flag(n) for n in changed)
        raise SeqgenError(f"{flags} {'does' if len(changed) == 1 else 'do'} not apply to {config.corpus!r}, a {kind} "
                          f"corpus; leave {'it' if len(changed) == 1 else 'them'} out")


def load_splits(config: TrainConfig, tokenizer_state: Optional[dict] = None, progress: bool = True) -> Splits:
    """Read, split and encode the corpus; with `tokenizer_state`, reuse that tokenizer instead of fitting one."""
    from seqgen.music.corpus import is_music_corpus

    if is_pianoroll_corpus(config.corpus):
        return _frame_splits(config, tokenizer_state)
    if is_music_corpus(config.corpus):
        return _music_splits(config, tokenizer_state, progress)
    return _text_splits(config, tokenizer_state, progress)


def _text_splits(config: TrainConfig, tokenizer_state: Optional[dict], progress: bool) -> Splits:
    """A text corpus through its token file (built in a streaming pass the first time, memory-mapped after)."""
    from seqgen.data import tokens as token_files
    from seqgen.data.corpora import corpus_files, iter_corpus
    from seqgen.tokenizers import tokenizer_from_state

    name, files, encoding = corpus_files(config.corpus, config.encoding)

    def chunks():
        return iter_corpus(files, encoding)

    survey = token_files.cached_survey(files, encoding, chunks)
    bounds = token_files.split_bounds(survey.characters, config.val_fraction, config.test_fraction)
    fractions = [config.val_fraction, config.test_fraction]
    cache = token_files.writable_cache()
    fit_key = None
    if tokenizer_state is None:  # a tokenizer fitted to this corpus: look it up by its settings
        vocab = None if config.tokenizer == "char" else config.vocab_size
        fit_key = token_files.key_of(corpus=survey.fingerprint, splits=fractions, kind=config.tokenizer, vocab=vocab)

    def vocab_size(state: dict) -> int:
        return tokenizer_from_state(state).vocab_size

    def open_file(key: str):
        return cache.open(key, survey.fingerprint, fractions, vocab_size)

    with cache.lock(fit_key or token_files.tokenizer_key(tokenizer_state)):
        key = cache.alias(fit_key) if fit_key else None
        found = open_file(key) if key else None
        if found is None:
            if tokenizer_state is None:
                tokenizer = _fit_tokenizer(config, survey, chunks, bounds)
                tokenizer_state = tokenizer.to_state()
            else:
                tokenizer = tokenizer_from_state(tokenizer_state)
            key = token_files.file_key(survey.fingerprint, fractions, tokenizer_state)
            found = open_file(key)
            if found is None:
                found = _tokenise(cache, key, tokenizer, survey, chunks, bounds, name, progress)
            if fit_key:
                cache.write_alias(fit_key, key)
    tokenizer = tokenizer_from_state(token_files.tokenizer_from_json(found.header["tokenizer"]))
    ids = {split: found.split(split) for split in token_files.SPLITS}
    characters = dict(zip(token_files.SPLITS, (bounds[0], bounds[1] - bounds[0], survey.characters - bounds[1])))
    return Splits(name, survey.fingerprint, tokenizer, ids, characters=characters)


def _fit_tokenizer(config: TrainConfig, survey, chunks, bounds):
    """A tokenizer for the corpus: every character it holds, or sentencepiece trained on a sample of the
    training split's lines (read in a streaming pass)."""
    from seqgen.data.tokens import split_pieces
    from seqgen.tokenizers.char import CharTokenizer
    from seqgen.tokenizers.sentencepiece import TRAINING_LINES, SentencePieceTokenizer

    if config.tokenizer == "char":
        return CharTokenizer(survey.charset)  # every character of the corpus, so no split has unknowns
    if config.tokenizer not in ("bpe", "unigram"):
        from seqgen.tokenizers import fit_tokenizer

        return fit_tokenizer(config.tokenizer, "", config.vocab_size)  # one line naming the kinds there are
    train_lines = survey.lines * bounds[0] / max(1, survey.characters) + 1
    stride = max(1, int(train_lines) // TRAINING_LINES)

    def sample():
        index = 0
        for split, text in split_pieces(chunks(), bounds, whole_lines=True):
            if split != "train":
                break
            for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):
                if index % stride == 0 and line.strip():
                    yield line
                index += 1

    lines = list(sample())
    if not lines:
        raise SeqgenError("the training text has no non-blank lines to train a sentencepiece model on")
    return SentencePieceTokenizer.fit_lines(lines, config.tokenizer, config.vocab_size)


def _tokenise(cache, key, tokenizer, survey, chunks, bounds, name, progress):
    from seqgen.data.tokens import split_pieces, token_dtype, tokenizer_to_json
    from seqgen.training import progress_bar

    header = {"corpus": {"name": name, "fingerprint": survey.fingerprint, "characters": survey.characters},
              "tokenizer": tokenizer_to_json(tokenizer.to_state())}
    whole_lines = tokenizer.kind != "char"
    large = survey.characters >= 20_000_000  # a bar only where tokenising takes a while
    with progress_bar(survey.characters, progress and large, unit="char", unit_scale=True, desc="tokenising",
                      bar_format=None) as bar:
        return cache.build(key, header, split_pieces(chunks(), bounds, whole_lines), tokenizer.encode,
                           token_dtype(tokenizer.vocab_size), progress=bar.update)


def _music_splits(config: TrainConfig, tokenizer_state: Optional[dict], progress: bool) -> Splits:
    from seqgen.music.corpus import load_pieces, prepare_pieces, split_pieces
    from seqgen.music.events import MusicTokenizer, piece_quarters

    tokenizer = MusicTokenizer.from_state(tokenizer_state) if tokenizer_state else MusicTokenizer(grid=config.grid)
    name, pieces, skipped = load_pieces(config.corpus, tokenizer, progress)
    parts = split_pieces(pieces)
    ids, quarter_notes = {}, {}
    for split, members in parts.items():
        members = prepare_pieces(members, config.transpose, config.augment if split == "train" else 0)
        encoded = [tokenizer.encode_piece(piece) for piece in members]
        ids[split] = np.array([i for piece in encoded for i in piece], dtype=np.int16)
        quarter_notes[split] = sum(piece_quarters(piece, tokenizer.grid) for piece in members)
    digest = hashlib.sha256(repr((sorted(p["name"] for p in pieces), len(pieces), tokenizer.settings_key(),
                                  config.transpose, config.augment)).encode()).hexdigest()[:16]
    return Splits(name, digest, tokenizer, ids, quarter_notes=quarter_notes, skipped=skipped)


def _frame_splits(config: TrainConfig, tokenizer_state: Optional[dict]) -> Splits:
    """A piano-roll JSON corpus, split as the file splits it; each frame is a quarter note, so
    `quarter_notes` counts frames and the loss per quarter note is the loss per frame."""
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
    return Splits(name, digest, tokenizer, ids, quarter_notes=frames)


class TextStreams:
    """The training split as `batch_size` streams, walked window by window; a new pass starts the
    streams at another offset, so window borders move between epochs.

    The tokens stay where they are (a memory-mapped token file), and only the window being trained on
    is read and moved to the device. In a data-parallel run, process `rank` of `world` trains its own
    contiguous share of the streams, so N processes see exactly the text one process would."""

    def __init__(self, ids: np.ndarray, config: TrainConfig, device: torch.device, rank: int = 0, world: int = 1):
        self.tokens = torch.from_numpy(ids)  # the compact dtype; windows become int64 one at a time
        self.config = config
        self.device = device
        self.rows = slice(rank * config.batch_size // world, (rank + 1) * config.batch_size // world)
        self.epoch = -1
        self.streams = None
        self.per_epoch = 0

    def layout(self, epoch: int) -> None:
        config = self.config
        offset = int(torch.randint(config.bptt, (1,), generator=torch.Generator().manual_seed(config.seed + epoch)))
        offset = min(offset, max(0, self.tokens.numel() - 2 * config.batch_size))
        self.streams = batchify(self.tokens, config.batch_size, offset)[self.rows]  # (B / world, L)
        self.per_epoch = windows_per_pass(self.streams.size(1), config.bptt)
        self.epoch = epoch

    def window(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets (B / world, T) of window `index` of pass `epoch`, on the device."""
        if epoch != self.epoch:
            self.layout(epoch)
        inputs, targets = window(self.streams, index, self.config.bptt)
        return inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)

    def windows_in(self, epoch: int) -> int:
        if epoch != self.epoch:
            self.layout(epoch)
        return self.per_epoch
