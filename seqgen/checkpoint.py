"""The self-describing checkpoint file: plain data only, written atomically, checked on load.

Every task writes the same envelope (format, version, task) around its own payload; the task's
`load` rebuilds its model from the payload inside `rebuilding(path)`, so a damaged or hand-edited
file is one line, never a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import shutil
from pathlib import Path
from typing import Optional

import torch

from seqgen.errors import SeqgenError
from seqgen.files import replacing
from seqgen.version import __version__

FORMAT = "seqgen-checkpoint"
VERSION = 2
# What each version changed in the payload; upgrade() lifts every older payload to the current layout.
#   2: a language model's token count is model_config["num_tokens"] (version 1: "vocab_size"); every payload has
#      its train_config; a forecast's preprocessing names what it combines with ("none"); a classifier holds the
#      layout of its training file (None where version 1 did not store it) and its model_config its input_size
#      (1 before); a translator holds its corpus.


def save_checkpoint(payload: dict, path: str | Path, kept: Optional[str] = None) -> Path:
    """Write to a temporary file beside `path`, then rename: a crash, a kill or a full disk never
    leaves half a file, and the previous checkpoint of that name stays as it was. `kept` says, for the
    error line, what is left when the write fails (by default: whether a file of that name exists)."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "seqgen_version": __version__, **payload}
    try:
        with replacing(path) as tmp, open(tmp, "wb") as f:
            out = _Remembering(f)
            try:
                torch.save(payload, out)
            except RuntimeError:
                if out.error is not None:  # torch words a failed write its own way; the system's words are clearer
                    raise out.error from None
                raise
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename: a power cut keeps the old checkpoint or the new one
    except (OSError, RuntimeError) as error:  # torch reports a failed write as RuntimeError
        reason = _write_failure(error, path.parent)
        if kept is None:
            kept = (f"the last good {path.name} is intact" if path.exists() else
                    "no earlier checkpoint of that name exists")
        raise SeqgenError(f"could not write checkpoint {path} ({reason}); {kept}; free disk space or choose "
                          "another --output-dir") from None
    return path


class _Remembering:
    """A file whose first failed write is kept, so a full disk is reported as such and not as torch's
    "unexpected pos" (torch turns the OSError of a write into a RuntimeError of its own)."""

    def __init__(self, file):
        self.file, self.error = file, None

    def write(self, data) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = self.error or error
            raise

    def flush(self) -> None:
        self.file.flush()


def _write_failure(error: BaseException, folder: Path) -> str:
    """The reason a write failed, in the system's words where there are any."""
    seen = error
    while seen is not None:  # the OSError behind a RuntimeError, if there is one
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
        seen = seen.__cause__ or seen.__context__
    with contextlib.suppress(OSError):
        if shutil.disk_usage(folder).free == 0:
            return os.strerror(errno.ENOSPC)
    return (str(error).splitlines() or [type(error).__name__])[0][:160]


def resolve_checkpoint(path: str | Path, file_name: str = "best.pt") -> Path:
    """Accept a checkpoint file or a run folder (its best.pt, or `file_name`), named by a str or a pathlib.Path.
    `<output_dir>/last` stands for the newest run that has that file, also while a newer run has not saved one yet."""
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise SeqgenError(f"a checkpoint is named by a path (text or a pathlib.Path) to a file or run folder, not "
                          f"{type(path).__name__} {path!r}"[:200])
    if "\x00" in os.fspath(path) or not os.fspath(path).strip():
        raise SeqgenError(f"checkpoint {os.fspath(path)!r} is not a path to a file or run folder")
    path = Path(path).expanduser()
    try:
        if path.name == "last" and (path.is_dir() or path.is_symlink()) and not (path / file_name).is_file():
            path = _newest_run(path.parent, file_name) or path
        if path.is_dir():
            path = path / file_name
        found = path.exists()
    except OSError as error:  # a name too long for the file system, a folder that may not be read, …
        raise SeqgenError(f"cannot open checkpoint {str(path)[:100]}: {error.strerror or error}") from None
    if not found:
        raise SeqgenError(f"checkpoint {path} does not exist; train one with `seqgen train`")
    return path


def _newest_run(output_dir: Path, file_name: str) -> Optional[Path]:
    """The run folder in `output_dir` whose `file_name` was written last, if any has one."""
    newest, when = None, -1
    with contextlib.suppress(OSError):
        for folder in output_dir.iterdir():
            with contextlib.suppress(OSError):
                if folder.name != "last" and folder.is_dir() and (folder / file_name).is_file():
                    mtime = (folder / file_name).stat().st_mtime_ns
                    if mtime > when:
                        newest, when = folder, mtime
    return newest


def load_checkpoint(path: str | Path, task: str | None = None, mmap: bool = False) -> dict:
    """Load a checkpoint onto the CPU, refusing truncated, foreign or newer files with one line. With `mmap`
    the tensors stay in the file until used: a cheap look at what a checkpoint is (its task, its step)."""
    path = resolve_checkpoint(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        # Every error of torch's weights-only unpickler mentions weights_only; only a GLOBAL (a class or function
        # to import and call) means objects other than plain data. Anything else is bytes that are no pickle.
        if "GLOBAL" in str(error):
            raise SeqgenError(f"{path} is not a seqgen checkpoint (it holds objects other than plain data, "
                              "which seqgen never loads)") from None
        raise SeqgenError(f"{path} is not a readable seqgen checkpoint (not a PyTorch file, or damaged)") from None
    except Exception:
        raise SeqgenError(f"{path} is not a readable seqgen checkpoint (truncated, damaged or another kind of file)") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise SeqgenError(f"{path} is not a seqgen checkpoint (it is a PyTorch file of another kind)")
    version = payload.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SeqgenError(f"{path} is damaged: its format version is {version!r}, not a version seqgen wrote")
    if version > VERSION:
        raise SeqgenError(
            f"{path} was written by a newer seqgen (checkpoint format {version}, this one reads up to {VERSION}); "
            "upgrade seqgen"
        )
    if not isinstance(payload.get("task"), str):
        raise SeqgenError(f"{path} is damaged: it does not say which task it belongs to")
    if task is not None and payload["task"] != task:
        raise SeqgenError(f"{path} is a {payload['task']} checkpoint, but this needs a {task} checkpoint")
    return upgrade(payload)


def upgrade(payload: dict) -> dict:
    """Lift a payload of an earlier version (see VERSION) to the current layout, in place, and return it: readers
    find every part where the current code writes it. Parts of the wrong type are left for the task's checks."""
    if payload["version"] < 2:
        task = payload["task"]
        model = payload.get("model_config")
        if task == "language-model" and isinstance(model, dict) and "vocab_size" in model:
            model.setdefault("num_tokens", model.pop("vocab_size"))
        if payload.get("train_config") is None:
            payload["train_config"] = {}
        prep = payload.get("preprocessing")
        if task == "forecast" and isinstance(prep, dict):
            prep.setdefault("combine", "none")
        if task == "classify":
            payload.setdefault("layout", None)
            if isinstance(model, dict):
                model.setdefault("input_size", 1)  # one channel: models of several came with version 2
        if task == "translate" and payload.get("corpus") is None:
            payload["corpus"] = {}
    payload["version"] = VERSION
    return payload


@contextlib.contextmanager
def rebuilding(path: str | Path):
    """Turn anything that goes wrong while a model is rebuilt from a payload into one line."""
    try:
        yield
    except SeqgenError as error:
        raise SeqgenError(f"{path} is damaged: {error}") from None
    except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError, OverflowError) as error:
        detail = f"missing {error}" if isinstance(error, KeyError) else (str(error).splitlines() or [""])[0][:120]
        raise SeqgenError(f"{path} is damaged ({type(error).__name__}: {detail}); train a new one or use another "
                          "checkpoint") from None


def check_weights(state: dict, what: str = "its weights") -> None:
    """Refuse weights that are not numbers: a model with NaN or infinite weights only ever produces garbage."""
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise SeqgenError(f"{what} hold {type(tensor).__name__} at {name!r}, not a tensor")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise SeqgenError(f"{what} hold NaN or infinite values (in {name!r})")


def require(payload: dict, **types) -> None:
    """Check the payload has each key with a value of the given type(s); SeqgenError naming the first that does not."""
    for key, kind in types.items():
        if key not in payload:
            raise SeqgenError(f"it lacks {key!r}")
        if not isinstance(payload[key], kind):
            raise SeqgenError(f"its {key!r} is a {type(payload[key]).__name__}, not a "
                              f"{getattr(kind, '__name__', ' or '.join(k.__name__ for k in kind))}")
