"""The run folder: its name, its lock, the `last` link, best.pt / latest.pt, run.json and loss.png.

Every task writes the same files:
    best.pt     the weights of the best validation loss (the final ones when there is no validation)
    latest.pt   the full state of the last saved step: `seqgen train --resume` continues from it
    run.json    configuration and history, for people
    loss.png    the loss curves
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import errno
import json
import os
import shutil
from pathlib import Path
from typing import Optional

from seqgen.checkpoint import save_checkpoint
from seqgen.errors import SeqgenError
from seqgen.files import TEMPORARY, held_by_another, try_lock, write_atomically
from seqgen.plots import pyplot, save_figure

# A folder holding one of these holds a run: a new run there is refused unless it says --overwrite.
RUN_FILES = ("best.pt", "latest.pt", "run.json")
# Longest run name: most file systems allow 255 bytes in a folder's name.
NAME_BYTES = 255


def check_name(name: str) -> str:
    """A run name is one folder inside --output-dir: no separators, no '..', nothing hidden, not too long."""
    if (not name.strip() or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name
            or name != name.strip()):
        raise SeqgenError(f"--name {name!r} must be a plain folder name (no '/', '\\', leading '.' or spaces at "
                          "either end); use --output-dir to choose where runs go")
    if name == "last":
        raise SeqgenError("--name last is taken: `last` always points at the newest run; choose another name")
    if len(name.encode("utf-8", "surrogatepass")) > NAME_BYTES:
        raise SeqgenError(f"--name {_shown(name)} is {len(name.encode('utf-8', 'surrogatepass'))} bytes long; a run "
                          f"name may have at most {NAME_BYTES}: choose a shorter --name")
    return name


def default_name(stem: str) -> str:
    """The name of a run given no --name: the corpus's name (shortened to fit) and the time."""
    stem = stem.encode("utf-8", "surrogatepass")[:NAME_BYTES - 40].decode("utf-8", "ignore").strip() or "run"
    stem = "".join("-" if c in "/\\\x00" else c for c in stem).lstrip(".") or "run"
    return f"{stem}-{datetime.datetime.now():%Y%m%d-%H%M%S}"


def _shown(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _holds_run(folder: Path) -> bool:
    return any((folder / name).exists() for name in RUN_FILES)


def check_new_run(output_dir: str, name: Optional[str], overwrite: bool = False) -> None:
    """Refuse a --name whose folder already holds a run (unless `overwrite`) or that a live run is writing
    to; writes nothing, so a train function calls it before reading any data and the mistake is one line
    at once."""
    if name is None:
        if overwrite:
            raise SeqgenError("--overwrite replaces the run in the folder of a --name; give the --name of the run to "
                              "replace (without --name every run gets a new folder)")
        return
    folder = Path(output_dir).expanduser() / check_name(name)
    try:
        taken = _holds_run(folder)
    except OSError as error:
        raise SeqgenError(f"cannot use the run folder {folder}: {error.strerror or error}; {_remedy(error)}") from None
    if taken and _busy(folder):
        raise RunBusy(_busy_line(folder))
    if taken and not overwrite:
        raise _taken(folder)


def _busy(folder: Path) -> bool:
    """Whether a live process holds the folder's lock (tested without creating anything)."""
    return held_by_another(folder / ".lock")


def _busy_line(folder: Path) -> str:
    return f"another seqgen run is writing to {folder}; wait for it to finish, or choose another --name"


def _taken(folder: Path) -> SeqgenError:
    return SeqgenError(f"{folder} already holds a run; continue it with `seqgen train --resume {folder}`, choose "
                       "another --name, or replace it with --overwrite")


class RunFolder:
    """A run's folder, created and locked for as long as this process trains into it.

    The folder is claimed when the run writes its first file (a checkpoint): with --overwrite, that is
    when the run it replaces is removed (so a new run that fails before it saves anything leaves the old
    one as it was), and when `last` moves here (so `seqgen sample checkpoints/last` keeps naming a run
    with a checkpoint while a new run starts)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = None
        self._written: set[str] = set()  # files of this run: written by this process, or by the run it resumes
        self._replaced: Optional[list] = None  # with --overwrite: the old run's entries, removed at the first write
        self._claimed = False  # whether this process has written in the folder yet

    @classmethod
    def new(cls, output_dir: str, name: Optional[str], default_stem: str, overwrite: bool = False) -> "RunFolder":
        """A new run's folder. A folder that already holds a run is refused unless `overwrite`; without --name,
        a run started in the same second as another gets a folder of its own (`<stem>-<time>-2`)."""
        base = Path(output_dir).expanduser()
        check_new_run(output_dir, name, overwrite)
        if name is not None:
            folder = cls(base / name).open()
            if folder._claimed_by_another_run(overwrite):
                folder.close()
                raise _taken(folder.path)
            return folder
        stem = default_name(default_stem)
        for attempt in range(1, 1000):
            candidate = stem if attempt == 1 else f"{stem}-{attempt}"
            try:
                if _holds_run(base / candidate):
                    continue
            except OSError:
                pass  # open() says what is wrong with the folder
            folder = cls(base / candidate)
            try:
                folder.open()
            except RunBusy:
                continue
            if folder._claimed_by_another_run(False):
                folder.close()
                continue
            return folder
        raise SeqgenError(f"{base} holds too many runs named {stem}-…; give a --name")

    @classmethod
    def of_checkpoint(cls, checkpoint: Path) -> "RunFolder":
        """The folder a resumed run keeps writing to: the one its latest.pt lies in."""
        folder = cls(Path(checkpoint).expanduser().resolve().parent).open()
        folder._written = {name for name in ("best.pt", "latest.pt") if (folder.path / name).exists()}
        return folder

    @property
    def best(self) -> Path:
        return self.path / "best.pt"

    @property
    def latest(self) -> Path:
        return self.path / "latest.pt"

    def open(self) -> "RunFolder":
        parent = self.path.parent
        try:
            if parent.exists() and not parent.is_dir():
                raise SeqgenError(f"--output-dir {parent} is a file, not a folder; choose a folder")
            if self.path.exists() and not self.path.is_dir():
                raise SeqgenError(f"{self.path} is a file, not a run folder; choose another --name")
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SeqgenError(f"cannot create the run folder {self.path}: {error.strerror or error}; "
                              f"{_remedy(error)}") from None
        self._take_lock()
        self._remove_stale_temporaries()
        return self

    def _claimed_by_another_run(self, overwrite: bool) -> bool:
        """Whether the folder holds a run this one may not replace; with `overwrite`, note that run's files,
        to be removed when this run writes its first file."""
        if not _holds_run(self.path):
            return False
        if not overwrite:
            return True
        self._replaced = [entry for entry in self.path.iterdir() if entry.name != ".lock"]
        return False

    def _take_lock(self) -> None:
        """An OS lock on the folder's .lock file (seqgen.files.lock): it dies with the process, so a kill leaves
        no stale lock. The file names the holder's process id, for people."""
        try:
            held = try_lock(self.path / ".lock")
        except OSError as error:
            raise SeqgenError(f"cannot write in the run folder {self.path}: {error.strerror or error}; "
                              f"{_remedy(error)}") from None
        if held is None:
            raise RunBusy(_busy_line(self.path))
        with contextlib.suppress(OSError):  # Windows keeps the locked file from other writes; the id is a courtesy
            (self.path / ".lock").write_text(f"{os.getpid()}\n")
        self._lock = held

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _remove_stale_temporaries(self) -> None:
        """Half-written files of an earlier process that was killed mid-write (we hold the lock, so no
        live writer owns them)."""
        for pattern in (".*.pt.*.tmp", "*.json.tmp", "*.tmp.png", f".*{TEMPORARY}*"):
            for stale in self.path.glob(pattern):
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink(missing_ok=True)

    def wrote(self, path: Path) -> None:
        """Note a file this run has written. The first one claims the folder: the run --overwrite replaces is
        removed (all but what this run wrote), and `last` points here."""
        self._written.add(Path(path).name)
        if self._replaced is not None:
            for entry in self._replaced:
                if entry.name in self._written:
                    continue
                try:
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry)
                    else:
                        entry.unlink(missing_ok=True)
                except OSError as error:
                    raise SeqgenError(f"could not remove {entry} of the run --overwrite replaces: "
                                      f"{error.strerror or error}") from None
            self._replaced = None
        if not self._claimed:
            self._claimed = True
            self._point_last_here()

    def has_written(self, name: str) -> bool:
        """Whether the folder's file `name` belongs to this run (written by it, or by the run it resumes)."""
        return name in self._written

    def save_checkpoint(self, payload: dict, path: Path) -> Path:
        """seqgen.checkpoint.save_checkpoint into this folder; a failure says truthfully what is left."""
        path = Path(path)
        saved = sorted(name for name in self._written if name.endswith(".pt"))
        if path.name in self._written:
            kept = f"the last good {path.name} is intact"
        elif saved:
            kept = f"this run's {' and '.join(saved)} {'is' if len(saved) == 1 else 'are'} intact"
        elif self._replaced is not None:
            kept = "the run --overwrite was to replace is left as it was"
        else:
            kept = "this run has saved no checkpoint yet"
        save_checkpoint(payload, path, kept)
        self.wrote(path)
        return path

    def _point_last_here(self) -> None:
        """Keep `<output_dir>/last` pointing at the newest run that has a checkpoint, so `seqgen sample
        checkpoints/last` works."""
        link = self.path.parent / "last"
        try:
            if link.is_symlink():
                link.unlink()
            if not link.exists():
                link.symlink_to(self.path.name, target_is_directory=True)
        except OSError:
            pass  # no symlinks here (some Windows set-ups): the run folder's own name still works

    def write_json(self, name: str, data: dict) -> Path:
        encoded = json_bytes(data)
        path = write_atomically(self.path / name, lambda f: f.write(encoded), "wb",
                                hint="; the checkpoints beside it are intact")
        self.wrote(path)
        return path

    def plot_history(self, history: list, name: str = "loss.png", x_label: str = "step") -> Path:
        path = plot_history(history, self.path / name, x_label)
        self.wrote(path)
        return path


def note_outcome(folder, stop_reason: str) -> None:
    """Add how the run ended ("budget", "patience" or "interrupted") to its run.json, so that a list of runs can
    tell a finished run from an interrupted one; a run.json that is missing or unreadable is left alone."""
    path = Path(folder) / "run.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.get("stop_reason") != stop_reason:
        data["stop_reason"] = stop_reason
        encoded = json_bytes(data)
        write_atomically(path, lambda f: f.write(encoded), "wb", hint="; the checkpoints beside it are intact")


def json_bytes(data: dict) -> bytes:
    """run.json's text: UTF-8, or escaped ASCII where a path holds bytes that are not UTF-8 (a name typed in
    another encoding)."""
    try:
        return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(data, indent=2) + "\n").encode("ascii")


class RunBusy(SeqgenError):
    """Another live process holds the run folder's lock."""


def _remedy(error: OSError) -> str:
    if error.errno == errno.ENAMETOOLONG:
        return "the path is too long: choose a shorter --output-dir or --name"
    return "choose another --output-dir"


class RunPaths:
    """For a run's result (a dataclass declared with repr=False that sets `run`, a RunFolder): where its folder
    and checkpoints are, and a repr of one short line."""

    run: RunFolder

    def __repr__(self) -> str:
        """Name=value for each figure of the run, a count for its histories and reports, then the paths: a
        notebook shows a run's outcome, not its whole loss history."""
        parts = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "run":
                continue
            if isinstance(value, (list, tuple)):
                shown = f"<{len(value)} entr{'y' if len(value) == 1 else 'ies'}>"
            elif isinstance(value, dict):
                shown = "{...}"
            elif isinstance(value, float):
                shown = f"{value:.4f}"
            elif isinstance(value, str) and len(value) > 40:
                shown = repr(value[:37] + "...")
            else:
                shown = repr(value)
            parts.append(f"{field.name}={shown}")
        parts += [f"{name}={str(getattr(self, name))!r}" for name in ("run_dir", "best_path", "latest_path")]
        return f"{type(self).__name__}({', '.join(parts)})"

    @property
    def run_dir(self) -> Path:
        return self.run.path

    @property
    def best_path(self) -> Path:
        return self.run.best

    @property
    def latest_path(self) -> Path:
        return self.run.latest


def plot_history(history: list, path: Path, x_label: str = "step") -> Path:
    """The loss curves: training loss per log interval, validation per evaluation."""
    plt = pyplot()

    train = [(h["step"], h["train_loss"]) for h in history if h.get("train_loss") is not None]
    val = [(h["step"], h["val_loss"]) for h in history if h.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="training", lw=1)
    if val:
        ax.plot(*zip(*val), "o-", label="validation", ms=3)
    ax.set_xlabel(x_label)
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if train or val:
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
