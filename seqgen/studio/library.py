"""The output folder as the studio sees it: the runs in it (those trained from a terminal too), their files, and
the studio's own folder (.studio: uploads and samples). Every path a request names is resolved here and refused
unless it lies inside the output folder: a run is a plain folder name, a file a plain file name."""

from __future__ import annotations

import datetime
import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Iterable

from seqgen.errors import SeqgenError
from seqgen.files import held_by_another
from seqgen.runs import RUN_FILES, check_name
from seqgen.tasks import TASKS, presentation

STUDIO = ".studio"  # hidden: never taken for a run, never a --name (check_name refuses a leading '.')
UPLOADS = "uploads"
SAMPLES = "samples"
KEEP_SAMPLES = 50  # sample folders kept; older ones are removed
RUN_JSON_BYTES = 64 * 2**20  # a run.json larger than this is not read
# What an upload may be: text-like files (checked as the command line checks a corpus) and music files.
TEXT_SUFFIXES = (".txt", ".csv", ".tsv", ".ts", ".arff")
MUSIC_SUFFIXES = (".mid", ".midi", ".xml", ".musicxml", ".mxl", ".abc", ".krn")


class NotFound(SeqgenError):
    """A run, file or upload the request names is not there."""


def plain_name(name, what: str) -> str:
    """A single file or folder name: no separators, no '..', nothing hidden, not empty."""
    if (not isinstance(name, str) or not name.strip() or name != name.strip() or "/" in name or "\\" in name
            or name.startswith(".") or "\x00" in name or len(name.encode("utf-8", "surrogatepass")) > 255):
        raise SeqgenError(f"{what} {str(name)[:60]!r} is not a plain file name (no '/', '\\', leading '.' or "
                          "spaces at either end)")
    return name


class Library:
    def __init__(self, root, max_upload_bytes: int):
        self.root = Path(root).expanduser().resolve()
        self.max_upload_bytes = max_upload_bytes

    def _inside(self, path: Path) -> Path:
        """`path` resolved (links followed), refused unless it lies inside the output folder."""
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise SeqgenError(f"{path.name!r} lies outside the output folder {self.root}")
        return resolved

    def folder(self, *parts: str) -> Path:
        """The studio's own folder (uploads, samples), made when missing."""
        path = self.root.joinpath(STUDIO, *parts)
        path.mkdir(parents=True, exist_ok=True)
        return self._inside(path)

    # runs

    def run_folder(self, name) -> Path:
        if not isinstance(name, str):
            raise SeqgenError("a run is named by its folder's name")
        try:
            check_name(name)
        except SeqgenError:
            raise NotFound(f"no run named {name[:60]!r} in {self.root}") from None
        folder = self.root / name
        if folder.is_symlink() or not folder.is_dir() or not holds_run(folder):
            raise NotFound(f"no run named {name[:60]!r} in {self.root}; the runs are listed on the page")
        return self._inside(folder)

    def runs(self) -> list[dict]:
        """Every run folder, newest first."""
        found = []
        if self.root.is_dir():
            for entry in self.root.iterdir():
                if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
                    continue
                if holds_run(entry):
                    found.append(self.summary(entry))
        return sorted(found, key=lambda run: run["date"], reverse=True)

    def summary(self, folder: Path) -> dict:
        """Task, corpus, size, best validation figure, date and state of the run in `folder`."""
        run = read_run_json(folder)
        checkpoints = [folder / f for f in RUN_FILES if (folder / f).is_file()]
        date = max(p.stat().st_mtime for p in checkpoints) if checkpoints else folder.stat().st_mtime
        config = run.get("train_config") if isinstance(run.get("train_config"), dict) else {}
        model = run.get("model_config") if isinstance(run.get("model_config"), dict) else {}
        hidden = model.get("hidden_size", config.get("hidden_size"))
        layers = model.get("num_layers", config.get("num_layers"))
        size = f"{layers}×{hidden}" if hidden and layers else ""
        if isinstance(run.get("parameters"), int):
            size += f" ({run['parameters']:,} parameters)"
        best = run.get("best_val_loss")
        return {"name": folder.name, "task": str(run.get("task", "–")),
                "corpus": str(config.get("corpus", "")), "size": size.strip(),
                "best_val_loss": best if isinstance(best, (int, float)) else None,
                "date": datetime.datetime.fromtimestamp(date).isoformat(timespec="seconds"),
                "state": state_of(folder, run), "step": run.get("step"), "has_model": (folder / "best.pt").is_file()}

    def detail(self, name) -> dict:
        folder = self.run_folder(name)
        run = read_run_json(folder)
        files = sorted(p.name for p in folder.iterdir()
                       if p.is_file() and not p.is_symlink() and not p.name.startswith("."))
        settings = {key: run[key] for key in ("train_config", "model_config", "preprocessing") if key in run}
        return {**self.summary(folder), "settings": settings, "curves": curves(run), "files": files}

    def run_file(self, name, file_name) -> Path:
        folder = self.run_folder(name)
        path = folder / plain_name(file_name, "the file")
        if path.is_symlink() or not path.is_file():
            raise NotFound(f"the run {name} has no file {file_name!r}")
        return self._inside(path)

    # uploads and samples

    def upload(self, name) -> Path:
        path = self.folder(UPLOADS) / plain_name(name, "the upload")
        if path.is_symlink() or not path.is_file():
            raise NotFound(f"no upload named {name!r}; upload the file first")
        return self._inside(path)

    def uploads(self) -> list[dict]:
        folder = self.folder(UPLOADS)
        return [{"name": p.name, "bytes": p.stat().st_size} for p in sorted(folder.iterdir())
                if p.is_file() and not p.name.startswith(".")]

    def upload_name(self, name) -> str:
        """A safe name for an upload called `name`: its last part, letters, digits, '.', '-' and '_' only."""
        name = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).lstrip(".-")[:100] or "upload.txt"
        suffix = Path(name).suffix.lower()
        if suffix not in TEXT_SUFFIXES + MUSIC_SUFFIXES:
            raise SeqgenError(f"{name!r} is not a file seqgen reads: upload text ({', '.join(TEXT_SUFFIXES)}) or music "
                              f"({', '.join(MUSIC_SUFFIXES)})")
        return name

    def save_upload(self, name: str, chunks: Iterable[bytes]) -> dict:
        """Write the upload (at most max_upload_bytes) under the uploads folder, and check it as the command line
        checks such a file; a refused upload leaves nothing behind."""
        from seqgen.files import write_atomically

        name = self.upload_name(name)
        path = self.folder(UPLOADS) / name
        total = 0

        def write(f):
            nonlocal total
            for chunk in chunks:
                total += len(chunk)
                if total > self.max_upload_bytes:
                    raise TooLarge(too_large(self.max_upload_bytes))
                f.write(chunk)

        write_atomically(path, write)
        try:
            check_upload(path)
        except SeqgenError:
            path.unlink(missing_ok=True)
            raise
        return {"name": name, "bytes": total}

    def sample_folder(self) -> tuple[str, Path]:
        """A new folder for one try's files; the oldest beyond KEEP_SAMPLES are removed."""
        base = self.folder(SAMPLES)
        old = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for stale in old[:max(0, len(old) - KEEP_SAMPLES + 1)]:
            shutil.rmtree(stale, ignore_errors=True)
        key = uuid.uuid4().hex
        folder = base / key
        folder.mkdir()
        return key, folder

    def sample_file(self, key, file_name) -> Path:
        if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{32}", key):
            raise NotFound(f"no sample {str(key)[:40]!r}")
        path = self.folder(SAMPLES) / key / plain_name(file_name, "the file")
        if path.is_symlink() or not path.is_file():
            raise NotFound(f"no file {file_name!r} in that sample (samples past the last {KEEP_SAMPLES} are removed)")
        return self._inside(path)


def holds_run(folder: Path) -> bool:
    """A run's files, or a live run's lock (a run that has not saved its first checkpoint yet)."""
    return any((folder / f).is_file() for f in RUN_FILES) or held_by_another(folder / ".lock")


class TooLarge(SeqgenError):
    """An upload past the size limit."""


def too_large(limit: int) -> str:
    return (f"the upload is larger than {limit / 2**20:g} MB, the most this studio takes; start `seqgen serve` with "
            "a larger --max-upload-mb, or train from the command line")


def check_upload(path: Path) -> None:
    """A text upload is read as the command line reads a corpus (empty, binary or undecodable files refused); a
    music upload must be a file music21 can read when training starts (its suffix says which)."""
    if path.suffix.lower() in TEXT_SUFFIXES:
        from seqgen.data.corpora import read_text_file

        read_text_file(path)
    elif path.suffix.lower() in (".mid", ".midi") and path.read_bytes()[:4] != b"MThd":
        raise SeqgenError(f"{path.name} is not a MIDI file (it does not start with MThd)")
    elif path.stat().st_size == 0:
        raise SeqgenError(f"{path.name} is empty")


def read_run_json(folder: Path) -> dict:
    """The run's run.json, or {} when it is missing, too large or not JSON (a run still starting, or damaged)."""
    path = folder / "run.json"
    try:
        if path.stat().st_size > RUN_JSON_BYTES:
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def state_of(folder: Path, run: dict) -> str:
    """running (a live process holds its lock), finished, interrupted, or ended (run.json does not say how: a
    process killed, or a run written by an older seqgen)."""
    if held_by_another(folder / ".lock"):
        return "running"
    reason = run.get("stop_reason")
    if reason in ("budget", "patience"):
        return "finished"
    if reason == "interrupted" or (not run and (folder / "latest.pt").is_file()):
        return "interrupted"
    return "ended"


def curves(run: dict) -> dict:
    """{"x": "step" or "epoch", "training": [[x, loss]], "validation": [[x, loss]]} of a run.json; a task whose
    run.json keeps them elsewhere says where (its present.py's studio_curves)."""
    task = run.get("task")
    if task in TASKS and hasattr(presentation(task), "studio_curves"):
        try:
            return presentation(task).studio_curves(run)
        except (KeyError, TypeError, IndexError, AttributeError):
            return {"x": "step", "training": [], "validation": []}
    history = [h for h in run.get("history") or [] if isinstance(h, dict)]
    x = "epoch" if history and "epoch" in history[0] else "step"

    def points(key: str) -> list:
        return [[h[x], h[key]] for h in history if isinstance(h.get(x), (int, float))
                and isinstance(h.get(key), (int, float))]

    return {"x": x, "training": points("train_loss"), "validation": points("val_loss")}


def one_line(error: BaseException) -> str:
    """The line the command line prints for `error`."""
    return "Error: " + " ".join(str(error).split())


