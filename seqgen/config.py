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
    forget_bias: float = option(0.0, "Added to the LSTM forget-gate biases at initialisation (1 is the classic advice; on tiny shakespeare it slowed early training).")
    weight_drop: float = option(0.0, "DropConnect on the recurrent (hidden-to-hidden) weights, one mask per window (AWD-LSTM).", min=0.0, max=0.9)
    embedding_dropout: float = option(0.0, "Drop whole token types from the embedding, one mask per window (AWD-LSTM).", min=0.0, max=0.9)
    locked_dropout: bool = option(False, "Use one dropout mask for all time steps of a window on the LSTM's input and output (variational dropout).")


@dataclass(frozen=True)
class TrainConfig:
    """How a language model is trained: data, optimisation, budget and output."""

    corpus: str = option("lady-susan", "Built-in corpus name (see `seqgen corpora`), a UTF-8 text file, or a folder of .txt files.")
    encoding: str = option("utf-8", "Text encoding of the corpus files, e.g. latin-1.")
    tokenizer: str = option("char", "Tokens: Unicode characters, or sentencepiece subwords.", choices=("char", "bpe", "unigram"))
    vocab_size: int = option(2000, "Vocabulary size for bpe / unigram tokenizers (ignored for char).", min=2)
    val_fraction: float = option(0.05, "Share of the corpus, taken from its end before the test part, used for validation.", min=0.0, max=0.5)
    test_fraction: float = option(0.05, "Share of the corpus, taken from its very end, held out for testing.", min=0.0, max=0.5)
    grid: int = option(4, "Music: time steps per quarter note (4 = sixteenths, 12 also fits triplets).", min=1, max=24)
    transpose: str = option("none", "Music: transpose every piece to C major / A minor by its key signature.", choices=("none", "common"))
    augment: int = option(0, "Music: also train on copies transposed by up to this many semitones each way.", min=0, max=11)
    batch_size: int = option(16, "Parallel streams the training text is laid out in (small steps learn fastest on a CPU; use 64-256 on a GPU).", min=1)
    bptt: int = option(32, "Tokens per truncated-backpropagation window.", min=1)
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
    output: Optional[str] = option(None, "Write the samples to this file (x-1.mid, x-2.mid, … with several); music needs it.")
    format: str = option("midi", "Music: file format written.", choices=("midi", "musicxml", "abc"))
    prime_midi: Optional[str] = option(None, "Music: continue this MIDI, MusicXML or ABC file.")
    bars: Optional[int] = option(None, "Music: stop each sample after this many new bars.", min=1)
    keep_primer: bool = option(True, "Music: the written file starts with the primer's notes.")
    plot: bool = option(False, "Music: also write a piano-roll PNG beside each file.")


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Everything that rebuilds the encoder-decoder; stored in the checkpoint (defaults: TranslateConfig)."""

    source_vocab_size: int
    target_vocab_size: int
    embedding_dim: int
    hidden_size: int
    num_layers: int
    dropout: float


@dataclass(frozen=True)
class TranslateConfig:
    """How a translation model (--task translate) is built and trained; shared flags get these defaults."""

    corpus: str = option("dates", "Built-in `dates` task, or a TSV file of source<TAB>target pairs.")
    source_column: Optional[int] = option(None, "TSV column of the source text [default: 3 for Tatoeba files, else 1].", min=1)
    target_column: Optional[int] = option(None, "TSV column of the target text [default: 4 for Tatoeba files, else 2].", min=1)
    train_pairs: int = option(50_000, "Generated training pairs for the built-in dates task.", min=100)
    max_length: int = option(200, "Translate: pairs whose source or target has more tokens than this are left out of training (and counted); `seqgen translate` cuts longer texts to it.", min=1, max=2000)
    encoding: str = "utf-8"
    tokenizer: str = "char"
    vocab_size: int = 1000
    shared_vocab: bool = option(True, "One vocabulary for source and target (translate: else one each).")
    val_fraction: float = 0.05
    test_fraction: float = 0.1
    embedding_dim: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.1
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.01
    warmup_steps: int = 50
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    max_steps: Optional[int] = None
    epochs: Optional[float] = None
    max_time: Optional[float] = None
    eval_interval: int = 200
    patience: Optional[int] = None
    seed: int = 1337
    device: str = "auto"
    output_dir: str = "checkpoints"
    name: Optional[str] = None

    def budget(self) -> tuple[Optional[int], Optional[float], Optional[float]]:
        """(max_steps, epochs, max_time in minutes); 4 minutes when none is set."""
        if self.max_steps is None and self.epochs is None and self.max_time is None:
            return None, None, 4.0
        return self.max_steps, self.epochs, self.max_time


@dataclass(frozen=True)
class ForecastConfig:
    """How a forecaster (--task forecast) is built and trained; shared flags get these defaults."""

    corpus: str = "airline"
    column: Optional[str] = option(None, "Forecast: CSV column holding the values [default: the last column].")
    season: Optional[int] = option(None, "Forecast: season length in steps, e.g. 12 for monthly data (1: none) [default: 12 for airline, else 1].", min=1)
    horizon: int = option(12, "Forecast: steps the network writes at once (longer forecasts continue from its own output).", min=1)
    window: int = option(36, "Forecast: past steps the network reads for each forecast.", min=2)
    log_transform: bool = option(True, "Forecast: model the logarithm of the series (positive series whose swings grow with the level).")
    seasonal_diff: bool = option(True, "Forecast: learn the change from the same step a season earlier, not from the last value.")
    holdout: int = option(0, "Forecast: keep the last N points out of training, so `seqgen evaluate` can score their forecast.", min=0)
    ensemble: int = option(5, "Forecast, classify: networks trained with successive seeds; a forecast is their mean and their spread its band, a class their mean probability (classify default: 3, each stopping early on its own validation fold).", min=1)
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    lr: float = 1e-2
    weight_decay: float = 1e-4
    epochs: float = 200
    batch_size: int = 256
    seed: int = 0
    device: str = "cpu"
    output_dir: str = "checkpoints"
    name: Optional[str] = None


@dataclass(frozen=True)
class ClassifyConfig:
    """How a sequence classifier (--task classify) is built and trained; shared flags get these defaults."""

    corpus: Optional[str] = None  # the labelled training file; required
    test: Optional[str] = option(None, "Classify: labelled test file scored after training (UCR format or CSV with a label column).")
    label_column: Optional[str] = option(None, "Classify: name of the label column of CSV files with a header [default: label, else the first].")
    bidirectional: bool = option(True, "Classify: read each sequence both ways.")
    conv_channels: int = option(64, "Classify: channels of the convolutional branch beside the LSTM (0: LSTM only).", min=0)
    class_weights: bool = option(True, "Classify: weight the loss by inverse class frequency (for imbalanced classes).")
    ensemble: int = 3
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.2
    lr: float = 3e-3
    weight_decay: float = 1e-2
    epochs: float = 150
    batch_size: int = 16
    patience: Optional[int] = 40
    val_fraction: float = 0.2
    seed: int = 0
    device: str = "cpu"
    output_dir: str = "checkpoints"
    name: Optional[str] = None
