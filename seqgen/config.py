"""Option fields, the settings every training run shares (each declared once), validation, and
configs to and from plain dicts. A task's config subclasses these and changes only defaults."""

from __future__ import annotations

import dataclasses
import math
import os
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
    return check(flag(name), value, field_type(cls, name), _optional(cls, name), **metadata(cls, name))


def check_values(cls, **values) -> dict:
    """Each keyword checked as the field of that name of `cls` (the checks of its flag), for a method that takes
    the options one by one; the values as the config would hold them (a path as text, a whole float number)."""
    return {name: check_value(cls, name, value) for name, value in values.items()}


def check(what: str, value, kind, optional: bool = False, **meta):
    """`value` checked as a `kind` (int, float, str or bool) with the choices and range in `meta`, the way
    every option is checked; SeqgenError naming it as `what`. A `path` option takes a str or a pathlib.Path
    (held as text)."""
    if value is None:
        if optional:
            return None
        raise SeqgenError(f"{what} needs a value")
    if kind is bool:
        if not isinstance(value, bool):
            raise SeqgenError(f"{what} must be true or false, not {_shown(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SeqgenError(f"{what} must be a whole number, not {_shown(value)}")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SeqgenError(f"{what} must be a number, not {_shown(value)}")
        value = float(value)
        if not math.isfinite(value):
            raise SeqgenError(f"{what} must be a finite number, not {value}")
    elif kind is str:
        if meta.get("path") and isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            wanted = "a path (text or a pathlib.Path)" if meta.get("path") else "text"
            raise SeqgenError(f"{what} must be {wanted}, not {_shown(value)}")
        if "\x00" in value:
            raise SeqgenError(f"{what} must not contain a NUL character")
    if "choices" in meta and value not in meta["choices"]:
        raise SeqgenError(f"{what} must be one of {', '.join(meta['choices'])}, not {_shown(value)}")
    low, high = meta.get("min"), meta.get("max")
    if low is not None and (value < low or (meta.get("min_open") and value == low)):
        raise SeqgenError(f"{what} must be {'>' if meta.get('min_open') else '>='} {low:g}, not {value:g}")
    if high is not None and value > high:
        raise SeqgenError(f"{what} must be <= {high:g}, not {value:g}")
    return value


def _shown(value) -> str:
    """A wrong value as the message shows it: its repr, cut short (an array or a long list is not printed whole)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else f"{text[:57]}..."


class Checked:
    """Mixin: every field is checked when the config is made, whoever makes it (CLI, API, a checkpoint)."""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            checked = check_value(type(self), f.name, getattr(self, f.name))
            object.__setattr__(self, f.name, checked)


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def from_dict(cls, values: dict):
    """Rebuild a config (from a checkpoint), ignoring keys that a later version removed (fields an earlier
    checkpoint format named otherwise are renamed by seqgen.checkpoint.upgrade())."""
    if not isinstance(values, dict):
        raise SeqgenError(f"a {cls.__name__} must be a mapping of option names to values, not {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in values.items() if k in names})


def option_names(cls) -> list[str]:
    """The fields of a config that are options, each a flag of the command line and a keyword of the Python
    API; a field seqgen sets itself (declared with cli=False) is not one."""
    return [f.name for f in dataclasses.fields(cls) if metadata(cls, f.name).get("cli", True)]


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
    output_dir: str = option("checkpoints", "Folder that receives the run folder.", path=True)
    name: Optional[str] = option(None, "Run folder name, inside --output-dir [default: corpus name and time].")
    overwrite: bool = option(False, "Replace the run already in the --name folder (its files are removed when this "
                             "run saves its first checkpoint); without it such a folder is refused.")


@dataclass(frozen=True)
class EnsembleOptions(RunOptions, NetworkOptions):
    """Runs of a small ensemble (forecast, classify): networks small enough that the CPU is the default."""

    device: str = default("cpu", help="Where to train: the CPU (these networks are small), cuda when available "
                                      "(auto), or forced.")


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
    vocab_size: int = option(2000, "Vocabulary size of bpe / unigram tokenizers (a char vocabulary is the corpus's "
                             "characters).", min=2)
    val_fraction: float = option(0.05, "Share of the corpus held out for validation.", min=0.0, max=0.5)
    test_fraction: float = option(0.05, "Share of the corpus held out for testing.", min=0.0, max=0.5)


# Options that may change when a run is resumed: they extend or watch the run, not reshape it.
RESUMABLE_OVERRIDES = ("max_steps", "epochs", "max_time", "patience", "eval_interval", "log_interval", "device",
                       "precision", "threads")


def read_config_file(path) -> dict:
    """--config run.toml as flat option names; sections such as [model] and [train] are for the reader's eyes."""
    import tomllib

    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except OSError as error:
        raise SeqgenError(f"cannot read --config {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise SeqgenError(f"--config {path} is not UTF-8 text; save it as a UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as error:
        raise SeqgenError(f"--config {path} is not valid TOML: {error}") from None
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict) and key not in SECTIONS:
            raise SeqgenError(f"--config {path} has a section [{key}]; use [{'], ['.join(SECTIONS)}] or none")
        for name, item in (value.items() if isinstance(value, dict) else [(key, value)]):
            option = name.replace("-", "_")
            if option in flat:
                raise SeqgenError(f"--config {path} sets {name} twice; keep one")
            if isinstance(item, (dict, list)) or not isinstance(item, (str, int, float, bool)):
                raise SeqgenError(f"--config {path}: {name} must be a single number, text or true/false, "
                                  f"not {type(item).__name__} {item!r}"[:200])
            flat[option] = item
    return flat


# The sections a --config file may use; they are only for the reader's eyes.
SECTIONS = ("model", "train")
