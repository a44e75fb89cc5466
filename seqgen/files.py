"""Writing output files whole or not at all: the one atomic write every file seqgen makes goes through
(pages, .npz, plots, MIDI, MusicXML, WAV, text samples, CSV, run.json, checkpoints, caches); and the one kind of
lock (a run folder, the token cache), an OS lock on every platform that dies with its process."""

from __future__ import annotations

import contextlib
import contextvars
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional

import filelock

from seqgen.errors import SeqgenError

TEMPORARY = ".tmp"  # a temporary's name: .<name>.<random>.tmp<suffix>, hidden, beside the file it becomes
_BATCH: contextvars.ContextVar = contextvars.ContextVar("seqgen_files_batch", default=None)


def reason(error: OSError) -> str:
    """'No space left on device', whatever way the error was raised."""
    if error.strerror:
        return error.strerror
    if error.errno:
        return os.strerror(error.errno)
    return str(error) or type(error).__name__


@contextlib.contextmanager
def staged(path, hint: str = "") -> Iterator[Path]:
    """A temporary file beside `path` for the body to write (a writer that wants a file name gets one); it is
    renamed onto `path` when the body ends, and removed when the body fails, so a reader never sees half a
    file, a failure leaves nothing behind and the file of that name written before stays as it was. Any
    OSError (a full disk, a folder that cannot be written) is one line: "cannot write PATH: REASON{hint}"."""
    path = Path(path)
    try:
        with replacing(path) as tmp:
            yield tmp
    except OSError as error:
        raise SeqgenError(f"cannot write {path}: {reason(error)}{hint}") from None


@contextlib.contextmanager
def replacing(path) -> Iterator[Path]:
    """`staged` with its OSError left to the caller, for a writer that words its own failure (a cache that
    only warns, a download that names the setting to change)."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the name's start only: a long file name plus the random part must not exceed the file system's limit
        fd, name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=TEMPORARY + path.suffix[:20], dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as open() would make it, not mkstemp's owner-only mode
        yield tmp
        batch = _BATCH.get()
        if batch is not None:
            batch.append((tmp, path))  # renamed with the others when the batch ends
        else:
            os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def write_atomically(path, write: Callable, mode: str = "wb", hint: str = "") -> Path:
    """write(file) into a temporary beside `path`, then renamed (see `staged`); a full disk that shows only when
    the file is closed is caught too."""
    path = Path(path)
    with staged(path, hint) as tmp:
        with open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            write(f)
    return path


@contextlib.contextmanager
def together() -> Iterator[None]:
    """The files staged inside the block (several samples, a file and its plot) are renamed into place together
    when it ends, and none when it fails: a failure at the last file leaves every earlier file as it was."""
    if _BATCH.get() is not None:  # inside another batch: its files join that one
        yield
        return
    pending: list = []
    token = _BATCH.set(pending)
    try:
        yield
    except BaseException:
        _discard(pending)
        raise
    finally:
        _BATCH.reset(token)
    for index, (tmp, path) in enumerate(pending):
        try:
            os.replace(tmp, path)
        except OSError as error:
            _discard(pending[index:])
            raise SeqgenError(f"cannot write {path}: {reason(error)}") from None


def _discard(pending: list) -> None:
    for tmp, _ in pending:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def lock(path) -> filelock.BaseFileLock:
    """An OS lock on the file `path` (flock on Unix, a locked byte on Windows): held until released or until the
    process ends, so a killed process never leaves a stale lock. Two holders in one process exclude each other too."""
    return filelock.FileLock(str(path), thread_local=False)


def try_lock(path) -> Optional[filelock.BaseFileLock]:
    """The lock on `path` if no one holds it (taken at once, never waited for), else None; OSError when the lock
    file cannot be made or opened."""
    held = lock(path)
    try:
        held.acquire(timeout=0)
    except filelock.Timeout:
        return None
    return held


def held_by_another(path) -> bool:
    """Whether a live holder has the lock on `path`, tested without creating the file (False when it is absent
    or cannot be opened)."""
    if not Path(path).is_file():
        return False
    try:
        held = try_lock(path)
    except OSError:
        return False
    if held is None:
        return True
    held.release()
    return False
