"""The self-describing checkpoint file: plain data only, written atomically, checked on load."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import torch

from seqgen import __version__
from seqgen.errors import SeqgenError

FORMAT = "seqgen-checkpoint"
VERSION = 1


def save_checkpoint(payload: dict, path: str | Path) -> Path:
    """Write to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "seqgen_version": __version__, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def resolve_checkpoint(path: str | Path) -> Path:
    """Accept a checkpoint file or a run folder (its best.pt)."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "best.pt"
    if not path.exists():
        raise SeqgenError(f"checkpoint {path} does not exist; train one with `seqgen train`")
    return path


def load_checkpoint(path: str | Path, task: str | None = None) -> dict:
    """Load a checkpoint onto the CPU, refusing truncated, foreign or newer files with one line."""
    path = resolve_checkpoint(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise SeqgenError(f"{path} is not a seqgen checkpoint (it holds objects other than plain data)") from None
    except Exception:
        raise SeqgenError(f"{path} is not a readable seqgen checkpoint (truncated, damaged or another kind of file)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SeqgenError(f"{path} is not a seqgen checkpoint (it is a PyTorch file of another kind)")
    version = payload.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise SeqgenError(
            f"{path} was written by a newer seqgen (checkpoint format {version}, this one reads up to {VERSION}); "
            "upgrade seqgen"
        )
    if task is not None and payload.get("task") != task:
        raise SeqgenError(f"{path} is a {payload.get('task')} checkpoint, but this command needs a {task} checkpoint")
    return payload


def load_language_model(path: str | Path, device: str | torch.device = "cpu"):
    """Rebuild (model, tokenizer, payload) from a language-model checkpoint alone."""
    from seqgen.config import ModelConfig, from_dict
    from seqgen.models import LSTMLanguageModel
    from seqgen.tokenizers import tokenizer_from_state

    payload = load_checkpoint(path, task="language-model")
    try:
        model = LSTMLanguageModel(from_dict(ModelConfig, payload["model_config"]))
        model.load_state_dict(payload["model_state"])
        tokenizer = tokenizer_from_state(payload["tokenizer"])
    except (KeyError, TypeError, RuntimeError) as error:
        raise SeqgenError(f"{resolve_checkpoint(path)} is damaged: {type(error).__name__} while rebuilding the model") from None
    return model.to(device).eval(), tokenizer, payload
