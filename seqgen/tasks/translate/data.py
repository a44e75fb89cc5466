"""The translation task's data: the pairs read and split, vocabularies over them (char or sentencepiece,
ids shifted past PAD/BOS/EOS/UNK), pairs over --max-length left out, and padded, length-bucketed batches."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from seqgen.data.pairs import describe_skipped, load_pairs
from seqgen.errors import SeqgenError
from seqgen.models.seq2seq import BOS, EOS, PAD, UNK
from seqgen.tasks.translate.config import TranslateConfig
from seqgen.tokenizers import fit_tokenizer

SPECIALS = 4  # PAD, BOS, EOS, UNK come before the tokenizer's own ids


class Vocab:
    """A char or sentencepiece tokenizer with its ids shifted past the special ids; unknown characters → UNK."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._chars = {c: i + SPECIALS for i, c in enumerate(tokenizer.chars)} if tokenizer.kind == "char" else None

    @classmethod
    def fit(cls, texts: list[str], kind: str, vocab_size: int) -> "Vocab":
        return cls(fit_tokenizer(kind, "\n".join(texts), vocab_size))

    @property
    def size(self) -> int:
        return self.tokenizer.vocab_size + SPECIALS

    def encode(self, text: str) -> list[int]:
        if self._chars is not None:
            return [self._chars.get(c, UNK) for c in text]
        return (self.tokenizer.encode(text.replace("\n", " ")).astype(np.int64) + SPECIALS).tolist()

    def unknown(self, text: str) -> list[str]:
        """Characters a char vocabulary never saw (they become UNK); none for sentencepiece's byte fallback."""
        return sorted({c for c in text if c not in self._chars}) if self._chars is not None else []

    def decode(self, ids) -> str:
        return self.tokenizer.decode([i - SPECIALS for i in ids if i >= SPECIALS])

    def label(self, i: int) -> str:
        return {PAD: "<pad>", BOS: "<s>", EOS: "</s>", UNK: "<unk>"}.get(i) or self.decode([i])


def fingerprint(pairs) -> str:
    digest = hashlib.sha256()
    for source, target in pairs:
        digest.update(f"{source}\t{target}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def make_batch(sources: list[list[int]], targets: Optional[list[list[int]]], device):
    """Pad a batch: source (B, S) ending in EOS, lengths (B,), target_in (B, T) = BOS + y, target_out (B, T) = y + EOS."""
    sources = [s + [EOS] for s in sources]
    lengths = torch.tensor([len(s) for s in sources])
    source = torch.full((len(sources), int(lengths.max())), PAD, dtype=torch.long)
    for row, ids in enumerate(sources):
        source[row, :len(ids)] = torch.tensor(ids)
    if targets is None:
        return source.to(device), lengths.to(device), None, None
    width = max(len(t) for t in targets) + 1
    target_in = torch.full((len(targets), width), PAD, dtype=torch.long)
    target_out = torch.full((len(targets), width), PAD, dtype=torch.long)
    for row, ids in enumerate(targets):
        target_in[row, :len(ids) + 1] = torch.tensor([BOS] + ids)
        target_out[row, :len(ids) + 1] = torch.tensor(ids + [EOS])
    return source.to(device), lengths.to(device), target_in.to(device), target_out.to(device)


def batches(count: int, batch_size: int, lengths: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar source length (sorted within chunks of 20 batches), so little is padding."""
    order = rng.permutation(count)
    chunk = batch_size * 20
    batches = []
    for start in range(0, count, chunk):
        part = order[start:start + chunk]
        part = part[np.argsort([lengths[i] for i in part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


MAX_OUTPUT_LENGTH = 1000  # tokens decoded at most per translation, whatever --max-len says
# No tokenizer piece here is longer than this many characters, so clipping a text to max_length × this
# characters before encoding never changes its first max_length tokens but keeps a huge text cheap.
CHARS_PER_TOKEN = 64


def clip_chars(text: str, max_length: int) -> str:
    return text[:max_length * CHARS_PER_TOKEN + 1]


@dataclass
class PairData:
    """The pairs of a run, encoded: what training needs, and what its checkpoint records."""

    name: str
    splits: dict  # train / val / test: (source, target) pairs as read
    source_vocab: Vocab
    target_vocab: Vocab
    train_pairs: list
    train_ids: list  # (source ids, target ids) per kept training pair
    val_pairs: list
    val_ids: list
    notes: list = field(default_factory=list)  # lines for the user: skipped lines, pairs left out


def check_corpus_options(config: TranslateConfig) -> None:
    """One line for an option the pairs are not read with: the built-in dates task makes its pairs and splits
    (no file, columns or fractions), a file has no --train-pairs, a char vocabulary no --vocab-size."""
    from seqgen.config import flag
    from seqgen.data.corpora import REGISTRY, check_task

    defaults = TranslateConfig()
    if config.tokenizer == "char" and config.vocab_size != defaults.vocab_size:
        raise SeqgenError("--vocab-size does not apply to --tokenizer char (its vocabulary is the pairs' "
                          "characters); use --tokenizer bpe or unigram, or leave it out")
    named = config.corpus in REGISTRY
    if named:  # a data set another task reads is named as such, before its options are judged
        check_task(REGISTRY[config.corpus], "translate")
    unread = (("source_column", "target_column", "encoding", "val_fraction", "test_fraction") if config.corpus == "dates"
              else ("train_pairs", "encoding") if named else ("train_pairs",))
    changed = [name for name in unread if getattr(config, name) != getattr(defaults, name)]
    if changed:
        what = ("the built-in dates task, which makes its own pairs and splits" if config.corpus == "dates" else
                f"the data set {config.corpus!r}, UTF-8 pairs (--train-pairs sizes the built-in dates task)" if named
                else "a pairs file (--train-pairs sizes the built-in dates task)")
        raise SeqgenError(f"{', '.join(flag(n) for n in changed)} {'does' if len(changed) == 1 else 'do'} not apply "
                          f"to {what}; leave {'it' if len(changed) == 1 else 'them'} out")


def read_splits(config: TranslateConfig):
    return load_pairs(config.corpus, train_size=config.train_pairs, seed=config.seed,
                      val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                      source_column=config.source_column, target_column=config.target_column,
                      encoding=config.encoding)


def prepare_pairs(config: TranslateConfig, vocabs: Optional[tuple] = None) -> PairData:
    """Read and split the pairs, fit the vocabularies (or reuse `vocabs`, when resuming) and encode
    them; a pair with a side longer than --max-length tokens is left out and counted."""
    name, splits, skipped = read_splits(config)
    cap = config.max_length
    # Texts far over the cap (in characters) are left out before the tokenizer is fitted: they would only be
    # dropped after encoding, and a huge one slows sentencepiece's training down for nothing.
    char_cap = cap * CHARS_PER_TOKEN
    huge = {part: [p for p in pairs if max(len(p[0]), len(p[1])) > char_cap] for part, pairs in splits.items()}
    fit_splits = {part: [p for p in pairs if max(len(p[0]), len(p[1])) <= char_cap] if huge[part] else pairs
                  for part, pairs in splits.items()}
    if vocabs is not None:
        source_vocab, target_vocab = vocabs
    else:
        # Char vocabularies see every split (as for the language model), so no held-out character is unknown;
        # sentencepiece learns from the training split only and falls back to bytes.
        fit_on = fit_splits["train"] if config.tokenizer != "char" else [p for part in fit_splits.values() for p in part]
        if not fit_on:
            raise SeqgenError(f"every training pair is longer than --max-length {cap} tokens; raise --max-length")
        if config.shared_vocab:
            source_vocab = target_vocab = Vocab.fit([t for pair in fit_on for t in pair], config.tokenizer,
                                                    config.vocab_size)
        else:
            source_vocab = Vocab.fit([s for s, _ in fit_on], config.tokenizer, config.vocab_size)
            target_vocab = Vocab.fit([t for _, t in fit_on], config.tokenizer, config.vocab_size)
    dropped = {"train": len(huge["train"]), "val": 0}

    def encode(pairs, part):
        kept_pairs, ids = [], []
        for s, t in pairs:
            pair_ids = (source_vocab.encode(clip_chars(s, cap)), target_vocab.encode(clip_chars(t, cap)))
            if max(len(pair_ids[0]), len(pair_ids[1])) > cap:
                dropped[part] += 1
            else:
                kept_pairs.append((s, t))
                ids.append(pair_ids)
        return kept_pairs, ids

    train_pairs, train_ids = encode(fit_splits["train"], "train")
    val_pairs, val_ids = encode(splits["val"][:1000], "val")
    notes, lost = [], []
    if skipped:
        lost.append(describe_skipped(skipped))
    if dropped["train"] or dropped["val"]:
        lost.append(f"left out {dropped['train'] + dropped['val']:,} pair(s) longer than --max-length {cap} tokens "
                    f"({dropped['train']:,} training, {dropped['val']:,} validation)")
    if lost:  # one line for everything not learned from
        notes.append(f"{config.corpus}: {'; '.join(lost)}")
    if not train_pairs:
        raise SeqgenError(f"every training pair is longer than --max-length {cap} tokens; raise --max-length")
    if not val_pairs:
        why = "all over --max-length" if splits["val"] else "--val-fraction 0 or too few pairs"
        notes.append(f"no validation pairs ({why}): validating on the training pairs")
        val_pairs, val_ids = train_pairs[:1000], train_ids[:1000]
    notes.append(f"{name}: {len(train_pairs):,} training, {len(splits['val']):,} validation, "
                 f"{len(splits['test']):,} test pairs")
    return PairData(name, splits, source_vocab, target_vocab, train_pairs, train_ids, val_pairs, val_ids, notes)


def checkpoint_splits(payload: dict) -> dict:
    """The train / val / test pairs a checkpoint was trained on, rebuilt from its corpus and checked unchanged."""
    from seqgen.config import from_dict

    config = from_dict(TranslateConfig, payload["train_config"])
    _, splits, _ = read_splits(config)
    if fingerprint(splits["test"]) != payload["corpus"]["test_fingerprint"]:
        raise SeqgenError(f"the corpus {config.corpus!r} changed since this model was trained, so its split is "
                          "not the one it was trained on; score a pairs file with --pairs instead")
    return splits
