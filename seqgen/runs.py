"""The run folder: its name, its lock, the `last` link, best.pt / latest.pt, run.json and loss.png.

Every task writes the same files:
    best.pt     the weights of the best validation loss (the final ones when there is no validation)
    latest.pt   the full state of the last saved step: `seqgen train --resume` continues from it
    run.json    configuration and history, for people
    loss.png    the loss curves
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

from seqgen.errors import SeqgenError
from seqgen.files import TEMPORARY, write_atomically
from seqgen.plots import save_figure

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not protected against a second writer there
    fcntl = None


def check_name(name: str) -> str:
    """A run name is one folder inside --output-dir: no separators, no '..', nothing hidden."""
    if (not name.strip() or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name
            or name != name.strip()):
        raise SeqgenError(f"--name {name!r} must be a plain folder name (no '/', '\\', leading '.' or spaces at "
                          "either end); use --output-dir to choose where runs go")
    if name == "last":
        raise SeqgenError("--name last is taken: `last` always points at the newest run; choose another name")
    return name


class RunFolder:
    """A run's folder, created and locked for as long as this process trains into it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = None

    @classmethod
    def new(cls, output_dir: str, name: str | None, default_stem: str) -> "RunFolder":
        name = check_name(name) if name is not None else f"{default_stem}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
        return cls(Path(output_dir).expanduser() / name).open()

    @classmethod
    def of_checkpoint(cls, checkpoint: Path) -> "RunFolder":
        """The folder a resumed run keeps writing to: the one its latest.pt lies in."""
        return cls(Path(checkpoint).expanduser().resolve().parent).open()

    @property
    def best(self) -> Path:
        return self.path / "best.pt"

    @property
    def latest(self) -> Path:
        return self.path / "latest.pt"

    def open(self) -> "RunFolder":
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            raise SeqgenError(f"--output-dir {parent} is a file, not a folder; choose a folder")
        if self.path.exists() and not self.path.is_dir():
            raise SeqgenError(f"{self.path} is a file, not a run folder; choose another --name")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SeqgenError(f"cannot create the run folder {self.path}: {error.strerror or error}; "
                              "choose another --output-dir") from None
        self._take_lock()
        self._remove_stale_temporaries()
        self._point_last_here()
        return self

    def _take_lock(self) -> None:
        """An OS lock on the folder's .lock file: it dies with the process, so a kill leaves no stale lock."""
        if fcntl is None:
            return
        try:
            handle = open(self.path / ".lock", "a+")
        except OSError as error:
            raise SeqgenError(f"cannot write in the run folder {self.path}: {error.strerror or error}; "
                              "choose another --output-dir") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise SeqgenError(f"another seqgen run is writing to {self.path}; wait for it to finish, or choose "
                              "another --name") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def _remove_stale_temporaries(self) -> None:
        """Half-written files of an earlier process that was killed mid-write (we hold the lock, so no
        live writer owns them)."""
        for pattern in (".*.pt.*.tmp", "*.json.tmp", "*.tmp.png", f".*{TEMPORARY}*"):
            for stale in self.path.glob(pattern):
                if stale.is_file() and not stale.is_symlink():
                    stale.unlink(missing_ok=True)

    def _point_last_here(self) -> None:
        """Keep `<output_dir>/last` pointing at the newest run, so `seqgen sample checkpoints/last` works."""
        link = self.path.parent / "last"
        try:
            if link.is_symlink():
                link.unlink()
            if not link.exists():
                link.symlink_to(self.path.name, target_is_directory=True)
        except OSError:
            pass  # no symlinks here (some Windows set-ups): the run folder's own name still works

    def write_json(self, name: str, data: dict) -> Path:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        return write_atomically(self.path / name, lambda f: f.write(text), "w",
                                hint="; the checkpoints beside it are intact")

    def plot_history(self, history: list, name: str = "loss.png", x_label: str = "step") -> Path:
        return plot_history(history, self.path / name, x_label)


class RunPaths:
    """For a run's result: where its folder and checkpoints are (the class sets `run`, a RunFolder)."""

    run: RunFolder

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
