"""Option fields, the settings every training run shares (each declared once), validation, and
configs to and from plain dicts. A task's config subclasses these and changes only defaults."""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import ClassVar, Optional

from seqgen.errors import SeqgenError


def option(default, help: str, **extra):
    """A dataclass field carrying the one-sentence help (and range, choices) of its flag."""
    return field(default=default, metadata={"help": help, **extra})


def default(value, **changes):
    """The same option as in a base config with this task's own default; help and range are inherited
    unless `changes` (e.g. a help text that fits this task) replace them."""
    return field(default=value, metadata={"inherit": True, **changes})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def metadata(cls, name: str) -> dict:
    """Help, range and choices of field `name`, from the nearest class in the MRO that declares them."""
    found: dict = {}
    for klass in cls.__mro__:
        for f in dataclasses.fields(klass) if dataclasses.is_dataclass(klass) else ():
            if f.name == name:
                found = {**f.metadata, **found}  # the nearest class's keys win
                if "help" in f.metadata and not f.metadata.get("inherit"):
                    return found
    return found


def field_type(cls, name: str):
    """The field's type with Optional removed: int, float, str or bool."""
    hint = typing.get_type_hints(cls)[name]
    return next((a for a in typing.get_args(hint) if a is not type(None)), hint)


def _optional(cls, name: str) -> bool:
    return type(None) in typing.get_args(typing.get_type_hints(cls)[name])


def check_value(cls, name: str, value):
    """The value for field `name`, checked against its type, choices and range; SeqgenError naming the flag."""
    meta, kind = metadata(cls, name), field_type(cls, name)
    if value is None:
        if _optional(cls, name):
            return None
        raise SeqgenError(f"{flag(name)} needs a value")
    if kind is bool:
        if not isinstance(value, bool):
            raise SeqgenError(f"{flag(name)} must be true or false, not {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SeqgenError(f"{flag(name)} must be a whole number, not {value!r}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SeqgenError(f"{flag(name)} must be a number, not {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise SeqgenError(f"{flag(name)} must be a finite number, not {value}")
    elif kind is str:
        if not isinstance(value, str):
            raise SeqgenError(f"{flag(name)} must be text, not {value!r}")
        if "\x00" in value:
            raise SeqgenError(f"{flag(name)} must not contain a NUL character")
    if "choices" in meta and value not in meta["choices"]:
        raise SeqgenError(f"{flag(name)} must be one of {', '.join(meta['choices'])}, not {value!r}")
    low, high = meta.get("min"), meta.get("max")
    if low is not None and (value < low or (meta.get("min_open") and value == low)):
        raise SeqgenError(f"{flag(name)} must be {'>' if meta.get('min_open') else '>='} {low:g}, not {value:g}")
    if high is not None and value > high:
        raise SeqgenError(f"{flag(name)} must be <= {high:g}, not {value:g}")
    return value


class Checked:
    """Mixin: every field is checked when the config is made, whoever makes it (CLI, API, a checkpoint)."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            checked = check_value(type(self), f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, checked)


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(cls, values: dict):
    """Rebuild a config, ignoring keys that a later version removed."""
    if not isinstance(values, dict):
        raise SeqgenError(f"a {cls.__name__} must be a mapping of option names to values, not {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def build(cls, values: dict):
    """A config from option values; an unknown name is an error naming it."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise SeqgenError(f"unknown option(s) {', '.join(flag(n) for n in unknown)}")
    return cls(**values)


# The help of every command's --threads (seqgen.threads holds the policy).
THREADS_HELP = ("CPU threads to compute with [default: measured as the steps run: one, or all usable CPUs "
                "(affinity, cgroup quota) while that is faster].")


@dataclass(frozen=True)
class NetworkOptions(Checked):
    """The size of the LSTM, for every task."""

    hidden_size: int = option(256, "Units in each LSTM layer.", min=1, max=65536)
    num_layers: int = option(2, "Number of stacked LSTM layers.", min=1, max=64)
    dropout: float = option(0.1, "Dropout on the LSTM's inputs, between layers and before the output layer.", min=0.0, max=0.9)


@dataclass(frozen=True)
class RunOptions(Checked):
    """What every training run has: optimiser, data order, where it runs and where it is written."""

    batch_size: int = option(16, "Examples (or parallel text streams) per optimizer step.", min=1)
    lr: float = option(4e-3, "Peak learning rate of AdamW.", min=0.0, min_open=True)
    weight_decay: float = option(0.01, "AdamW weight decay on weight matrices (not on biases, embeddings or norms).", min=0.0)
    epochs: Optional[float] = option(None, "Stop after this many passes over the training data.", min=0.0, min_open=True)
    seed: int = option(1337, "Random seed for initialisation, dropout and data order.", min=0, max=2**63 - 1)
    device: str = option("auto", "Where to train: cuda when available (auto), or forced.", choices=("auto", "cpu", "cuda"))
    precision: str = option("auto", "Arithmetic of the forward and backward pass: bf16 autocast (weights, optimizer "
                            "and loss stay fp32) or fp32; auto is bf16 on CUDA, and on CPUs with native bf16 for steps "
                            "of 4096 tokens or more.",
                            choices=("auto", "fp32", "bf16"))
    threads: Optional[int] = option(None, THREADS_HELP, min=1, max=1024)
    output_dir: str = option("checkpoints", "Folder that receives the run folder.")
    name: Optional[str] = option(None, "Run folder name, inside --output-dir [default: corpus name and time].")


@dataclass(frozen=True)
class StepOptions(RunOptions):
    """Runs measured in optimizer steps: warm-up and cosine schedule, clipping, a step/epoch/time budget,
    evaluation every few steps and patience."""

    # Used when a run names no --max-steps, --epochs or --max-time.
    DEFAULT_MINUTES: ClassVar[float] = 3.0

    warmup_steps: int = option(50, "Steps of linear learning-rate warm-up.", min=0)
    min_lr_ratio: float = option(0.05, "Cosine schedule floor, as a fraction of --lr.", min=0.0, max=1.0)
    grad_clip: float = option(1.0, "Clip the gradient norm to this (0 turns clipping off).", min=0.0)
    max_steps: Optional[int] = option(None, "Stop after this many optimizer steps.", min=1)
    max_time: Optional[float] = option(None, "Stop after this many minutes; the schedule follows the clock "
                                       "[default: the task's time budget when no --max-steps or --epochs].",
                                       min=0.0, min_open=True)
    eval_interval: int = option(250, "Evaluate on the validation split every this many steps.", min=1)
    log_interval: int = option(20, "Read the training loss from the device every this many steps.", min=1)
    patience: Optional[int] = option(None, "Stop after this many evaluations without a better validation loss.", min=1)

    def budget(self) -> tuple[Optional[int], Optional[float], Optional[float]]:
        """(max_steps, epochs, max_time in minutes), with the task's default time budget when none is set."""
        if self.max_steps is None and self.epochs is None and self.max_time is None:
            return None, None, self.DEFAULT_MINUTES
        return self.max_steps, self.epochs, self.max_time


@dataclass(frozen=True)
class CorpusOptions(Checked):
    """How a text corpus is read, tokenised and split (language models and translation)."""

    encoding: str = option("utf-8", "Text encoding of the corpus files, e.g. latin-1.")
    tokenizer: str = option("char", "Tokens: Unicode characters, or sentencepiece subwords.",
                            choices=("char", "bpe", "unigram"))
    vocab_size: int = option(2000, "Vocabulary size for bpe / unigram tokenizers (ignored for char).", min=2)
    val_fraction: float = option(0.05, "Share of the corpus held out for validation.", min=0.0, max=0.5)
    test_fraction: float = option(0.05, "Share of the corpus held out for testing.", min=0.0, max=0.5)


# Options that may change when a run is resumed: they extend or watch the run, not reshape it.
RESUMABLE_OVERRIDES = ("max_steps", "epochs", "max_time", "patience", "eval_interval", "log_interval", "device",
                       "precision", "threads")
