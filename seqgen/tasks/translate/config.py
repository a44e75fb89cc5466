"""The translation task's options: the pairs, the encoder-decoder's size and its training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from seqgen.config import CorpusOptions, NetworkOptions, StepOptions, default, option


@dataclass(frozen=True)
class TranslateConfig(StepOptions, CorpusOptions, NetworkOptions):
    """How a translation model is built and trained."""

    DEFAULT_MINUTES: ClassVar[float] = 4.0

    corpus: str = option("dates", "Built-in `dates` task, or a TSV file of source<TAB>target pairs.")
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
