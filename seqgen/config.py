"""Frozen dataclasses holding every default of a run; the CLI builds its options from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional


def option(default, help: str, **extra):
    """A dataclass field carrying the one-sentence help (and click extras) for its CLI flag."""
    return field(default=default, metadata={"help": help, **extra})


# Used when a run names no --max-steps, --epochs or --max-time.
DEFAULT_MAX_TIME = 3.0


@dataclass(frozen=True)
class ModelConfig:
    """Everything that rebuilds the network; stored in the checkpoint."""

    vocab_size: int = option(0, "Set from the tokenizer.", cli=False)
    embedding_dim: int = option(64, "Size of the token embedding.", min=1)
    hidden_size: int = option(256, "Units in each LSTM layer.", min=1)
    num_layers: int = option(2, "Number of stacked LSTM layers.", min=1)
    dropout: float = option(0.1, "Dropout on embeddings, between layers and before the output layer.", min=0.0, max=0.9)
    tie_weights: bool = option(False, "Share the embedding and output weights (a projection is added when sizes differ).")


@dataclass(frozen=True)
class TrainConfig:
    """How a language model is trained: data, optimisation, budget and output."""

    corpus: str = option("lady-susan", "Built-in corpus name (see `seqgen corpora`), a UTF-8 text file, or a folder of .txt files.")
    encoding: str = option("utf-8", "Text encoding of the corpus files, e.g. latin-1.")
    tokenizer: str = option("char", "Tokens: Unicode characters, or sentencepiece subwords.", choices=("char", "bpe", "unigram"))
    vocab_size: int = option(2000, "Vocabulary size for bpe / unigram tokenizers (ignored for char).", min=2)
    val_fraction: float = option(0.05, "Share of the corpus, taken from its end before the test part, used for validation.", min=0.0, max=0.5)
    test_fraction: float = option(0.05, "Share of the corpus, taken from its very end, held out for testing.", min=0.0, max=0.5)
    batch_size: int = option(32, "Parallel streams the training text is laid out in.", min=1)
    bptt: int = option(64, "Tokens per truncated-backpropagation window.", min=1)
    lr: float = option(4e-3, "Peak learning rate of AdamW.", min=0.0, min_open=True)
    weight_decay: float = option(0.01, "AdamW weight decay (not applied to biases or embeddings).", min=0.0)
    warmup_steps: int = option(50, "Steps of linear learning-rate warm-up.", min=0)
    min_lr_ratio: float = option(0.05, "Cosine schedule floor, as a fraction of --lr.", min=0.0, max=1.0)
    grad_clip: float = option(1.0, "Clip the gradient norm to this (0 turns clipping off).", min=0.0)
    max_steps: Optional[int] = option(None, "Stop after this many optimizer steps.", min=1)
    epochs: Optional[float] = option(None, "Stop after this many passes over the training text.", min=0.0, min_open=True)
    max_time: Optional[float] = option(None, f"Stop after this many minutes; the schedule follows the clock [default: {DEFAULT_MAX_TIME:g} when no --max-steps or --epochs].", min=0.0, min_open=True)
    eval_interval: int = option(250, "Evaluate on the validation split every this many steps.", min=1)
    eval_batch_size: int = option(16, "Contiguous streams the validation text is scored in (state carried through each).", min=1)
    log_interval: int = option(20, "Read the training loss from the device every this many steps.", min=1)
    patience: Optional[int] = option(None, "Stop after this many evaluations without a better validation loss.", min=1)
    seed: int = option(1337, "Random seed for initialisation, dropout and data order.")
    device: str = option("auto", "Where to train: cuda when available (auto), or forced.", choices=("auto", "cpu", "cuda"))
    output_dir: str = option("checkpoints", "Folder that receives the run folder.")
    name: Optional[str] = option(None, "Run folder name [default: corpus name and time].")

    def budget(self) -> tuple[Optional[int], Optional[float], Optional[float]]:
        """(max_steps, epochs, max_time in minutes), with the default time budget when none is set."""
        if self.max_steps is None and self.epochs is None and self.max_time is None:
            return None, None, DEFAULT_MAX_TIME
        return self.max_steps, self.epochs, self.max_time


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(cls, values: dict):
    """Rebuild a config, ignoring keys that a later version removed."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class SampleConfig:
    """How text is drawn from a trained model."""

    temperature: float = option(0.8, "Sharpen (<1) or flatten (>1) the distribution; 0 always takes the most likely token.", min=0.0)
    top_k: Optional[int] = option(None, "Sample only among the k most likely tokens.", min=1)
    top_p: Optional[float] = option(None, "Sample only among the most likely tokens whose probabilities sum to p.", min=0.0, max=1.0, min_open=True)
    length: int = option(500, "Tokens to generate (characters for a char model).", min=1)
    num_samples: int = option(1, "Samples to generate, as one batch.", min=1)
    prime: str = option("", "Text the samples continue.")
    seed: Optional[int] = option(None, "Random seed; the same seed gives the same text [default: random, printed].")
    device: str = option("auto", "Where to run: cuda when available (auto), or forced.", choices=("auto", "cpu", "cuda"))
