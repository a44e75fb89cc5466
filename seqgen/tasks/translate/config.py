"""The translation task's options: the pairs, the encoder-decoder's size and its training (TranslateConfig), the
search of `seqgen translate` (DecodeConfig) and what evaluating it scores (EvaluateConfig)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from seqgen.config import Checked, CorpusOptions, NetworkOptions, StepOptions, default, option


@dataclass(frozen=True)
class TranslateConfig(StepOptions, CorpusOptions, NetworkOptions):
    """How a translation model is built and trained."""

    DEFAULT_MINUTES: ClassVar[float] = 4.0

    corpus: str = option("dates", "Built-in `dates` task, a named data set (tatoeba-en-pt, fetched on first use; see `seqgen "
                         "corpora`), or a TSV file of source<TAB>target pairs.", path=True)
    source_column: Optional[int] = option(None, "TSV column of the source text [default: 3 for Tatoeba files, else 1].",
                                          min=1)
    target_column: Optional[int] = option(None, "TSV column of the target text [default: 4 for Tatoeba files, else 2].",
                                          min=1)
    train_pairs: int = option(50_000, "Generated training pairs for the built-in dates task.", min=100)
    max_length: int = option(200, "Pairs whose source or target has more tokens than this are left out of training "
                             "(and counted); `seqgen translate` cuts longer texts to it.", min=1, max=2000)
    shared_vocab: bool = option(True, "One vocabulary for source and target (else one each).")
    vocab_size: int = default(1000)
    val_fraction: float = default(0.05, help="Share of the pairs held out for validation (by source sentence).")
    test_fraction: float = default(0.1, help="Share of the pairs held out for testing (by source sentence).")
    embedding_dim: int = option(64, "Size of the token embeddings.", min=1, max=65536)
    hidden_size: int = default(128)
    num_layers: int = default(1)
    dropout: float = default(0.1)
    batch_size: int = default(128, help="Sentence pairs per optimizer step.")
    lr: float = default(3e-3)
    eval_interval: int = default(200)


MAX_BEAM = 64  # a wider beam costs memory and time in proportion and no longer changes the best translation


@dataclass(frozen=True)
class DecodeConfig(Checked):
    """How `seqgen translate` and Translator.translate search for a translation."""

    beam_size: int = option(5, f"Hypotheses kept per step (1: greedy; at most {MAX_BEAM}).", min=1, max=MAX_BEAM)
    length_penalty: float = option(1.0, "Rank hypotheses by log-probability / length^this (0 favours short outputs).",
                                   min=0.0, max=10.0)
    max_len: Optional[int] = option(None, "Most tokens per translation [default: 2 × source + 10, at most 512].",
                                    min=1, max=1000)
    batch_size: int = option(64, "Texts translated at once (sorted by length, so similar lengths share a batch).",
                             min=1)
    precision: str = option("auto", "Decoder weights on the CPU: int8 (per-channel scales) or fp32; auto is int8 "
                            "where PyTorch has the kernels.", choices=("auto", "fp32", "int8"))


@dataclass(frozen=True)
class EvaluateConfig(Checked):
    """What `seqgen evaluate` scores of a translation model (Translator.evaluate's keywords)."""

    split: str = option("test", "Which held-out part of the training corpus to score.", choices=("val", "test"))
    pairs: Optional[str] = option(None, "Score this TSV of source<TAB>target pairs (or all pairs of a named data "
                                  "set) instead of --split.", path=True)
    encoding: str = option("utf-8", "Text encoding of the file scored, e.g. latin-1.")
    beam_size: int = option(5, "The beam scored beside greedy decoding.", min=2, max=MAX_BEAM)
