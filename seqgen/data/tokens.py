"""Token files: a text corpus tokenised once, in a streaming pass that never holds the whole text, into
a flat array on disk that training, evaluation and every process of a distributed run read through
`numpy.memmap`, so memory does not grow with the corpus.

They live in seqgen's cache (`$SEQGEN_CACHE/tokens`, by default `~/.cache/seqgen/tokens`):

    sources-<key>.json  what one pass over a corpus's files learnt (content fingerprint, characters,
                        lines, character set), valid while the files' sizes and times are unchanged
    <key>.bin           the token ids of the whole corpus, train then validation then test, in the
                        smallest unsigned type that holds the vocabulary
    <key>.json          its header: format, dtype, corpus fingerprint, tokenizer, split offsets, checksum
    fit-<key>.json      which <key> a fitted tokenizer (kind, vocabulary size) produced for a corpus

A token file is keyed by the corpus's content and the tokenizer, so a second run on the same corpus
starts without tokenising again, and a corpus changed on disk is tokenised anew. Each time it is opened
it is checked against the corpus and tokenizer it was asked for (its header's fingerprint, tokenizer and
key, its ids' checksum and range): a file that fails is rebuilt, never trained on.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import errno
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

import numpy as np

from seqgen.data.corpora import cache_dir
from seqgen.errors import SeqgenError
from seqgen.files import TEMPORARY, lock, replacing, try_lock

FORMAT = "seqgen-tokens"
VERSION = 2  # 2: the header holds the ids' checksum
SPLITS = ("train", "val", "test")


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned type that holds every id of a vocabulary."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise SeqgenError(f"a vocabulary of {vocab_size:,} tokens is too large for a token file")


def split_bounds(characters: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(validation start, test start) in characters: train first, then validation, then test at the very end."""
    if val_fraction + test_fraction >= 1.0:
        raise SeqgenError("--val-fraction plus --test-fraction must leave some text for training")
    test_start = characters - int(round(characters * test_fraction))
    return test_start - int(round(characters * val_fraction)), test_start


@dataclass
class Survey:
    """What one streaming pass over a corpus learns."""

    fingerprint: str  # sha256 of the text as UTF-8 (the first 16 hex digits), the corpus's identity
    characters: int
    lines: int
    charset: str  # every character that occurs, sorted by code point


def survey(chunks: Iterable[str]) -> Survey:
    digest, characters, lines = hashlib.sha256(), 0, 0
    present = np.zeros(0x110000, dtype=bool)
    for chunk in chunks:
        characters += len(chunk)
        lines += chunk.count("\n")
        if chunk.isascii():  # most corpora: one byte per character, the bytes are their own UTF-8 (and fast)
            data = chunk.encode("ascii")
            digest.update(data)
            present[list(_bytes_in(data, set(np.flatnonzero(present[:128]).tolist())))] = True
            continue
        digest.update(chunk.encode("utf-8", "surrogatepass"))
        points = np.frombuffer(chunk.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        present[:int(points.max()) + 1] |= np.bincount(points).astype(bool)
    charset = "".join(chr(int(p)) for p in np.flatnonzero(present))
    return Survey(digest.hexdigest()[:16], characters, lines, charset)


def _bytes_in(data: bytes, seen: set) -> set:
    """The byte values in `data`, given some known to occur: each pass deletes every value seen so far (a
    C-speed scan), so the passes shrink and a chunk with nothing new takes one."""
    seen = set(seen) | set(data[:1 << 12])
    rest = data.translate(None, bytes(sorted(seen)))
    while rest:
        seen |= set(rest[:1 << 12])
        rest = rest.translate(None, bytes(sorted(seen)))
    return seen


def _stats(files: list[Path]) -> list:
    rows = []
    for path in files:
        info = path.stat()
        rows.append([str(path.resolve()), info.st_size, info.st_mtime_ns])
    return rows


def cached_survey(files: list[Path], encoding: str, chunks: Callable[[], Iterable[str]]) -> Survey:
    """The survey of a corpus's files, from the cache while their sizes and modification times are those it
    was made with; otherwise a fresh pass (`chunks()` yields the text), remembered for next time."""
    key = _key({"files": [str(p.resolve()) for p in files], "encoding": encoding})
    index = cache_dir() / "tokens" / f"sources-{key}.json"
    stats = _stats(files)
    try:
        known = json.loads(index.read_text(encoding="utf-8"))
        if known.get("stats") == stats:
            return Survey(str(known["fingerprint"]), int(known["characters"]), int(known["lines"]), str(known["charset"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    result = survey(chunks())
    if _stats(files) == stats:  # not edited while it was read
        _write_json(index, {"stats": stats, **result.__dict__})
    return result


def split_pieces(chunks: Iterable[str], bounds: tuple[int, int], whole_lines: bool) -> Iterator[tuple[str, str]]:
    """(split, text) pieces of the corpus in order, cut at the split bounds; with `whole_lines`, otherwise
    only after a newline, so that encoding the pieces one by one gives what encoding each split whole would
    for a tokenizer that reads lines (a character tokenizer does not need it)."""
    val_start, test_start = bounds
    position, held = 0, ""
    for chunk in chunks:
        text = held + chunk
        start = position - len(held)
        held = ""
        while text:
            split, end = ("train", val_start) if start < val_start else ("val", test_start) if start < test_start \
                else ("test", None)
            if end is not None and start + len(text) > end:  # the piece crosses into the next split
                cut = end - start
                if cut:
                    yield split, text[:cut]
                text, start = text[cut:], end
                continue
            cut = text.rfind("\n") + 1 if whole_lines else len(text)
            if cut:
                yield split, text[:cut]
            held, text = text[cut:], ""
        position += len(chunk)
    if held:
        split = "train" if position - len(held) < val_start else "val" if position - len(held) < test_start else "test"
        yield split, held


@dataclass
class TokenFile:
    path: Path
    header: dict
    tokens: np.ndarray  # a read-only view of the whole file (copy-on-write, so torch can wrap it)

    def split(self, name: str) -> np.ndarray:
        start, end = self.header["splits"][name]
        return self.tokens[start:end]


def tokenizer_to_json(state: dict) -> dict:
    return {k: {"base64": base64.b64encode(v).decode("ascii")} if isinstance(v, (bytes, bytearray)) else v
            for k, v in state.items()}


def tokenizer_from_json(state: dict) -> dict:
    return {k: base64.b64decode(v["base64"]) if isinstance(v, dict) and set(v) == {"base64"} else v
            for k, v in state.items()}


def tokenizer_key(state: dict) -> str:
    return _key(tokenizer_to_json(state))


def file_key(fingerprint: str, fractions: list, tokenizer_state: dict) -> str:
    """The key of the token file of a corpus (its fingerprint), split fractions and tokenizer."""
    return key_of(corpus=fingerprint, splits=list(fractions), tokenizer=tokenizer_key(tokenizer_state))


class Mismatch(Exception):
    """A token file that is not the one asked for: the reason, for the warning."""


class TokenCache:
    """The token files of the cache folder, or of a temporary folder when the cache cannot be written."""

    def __init__(self, folder: Optional[Path] = None):
        self.folder = Path(folder) if folder is not None else cache_dir() / "tokens"

    def open(self, key: str, fingerprint: str, fractions: list,
             vocab_size: Callable[[dict], int]) -> Optional[TokenFile]:
        """The token file of `key` when a sound one exists for this corpus (`fingerprint`, split `fractions`):
        its header names this corpus and a tokenizer whose key makes `key`, and its ids have the checksum the
        header records and lie below `vocab_size(the header's tokenizer state)`. Any other file (damaged,
        truncated, swapped, from another seqgen) is removed, to be rebuilt."""
        header_path, data_path = self.folder / f"{key}.json", self.folder / f"{key}.bin"
        if not header_path.exists():
            return None
        try:
            header = self._check(key, header_path, data_path, fingerprint, fractions, vocab_size)
        except Mismatch as reason:
            print(f"warning: the token file {data_path} {reason}; tokenising again", file=sys.stderr, flush=True)
            for path in (header_path, data_path):
                with contextlib.suppress(OSError):
                    path.unlink()
            return None
        return _mapped(data_path, header)

    @staticmethod
    def _check(key, header_path, data_path, fingerprint, fractions, vocab_size) -> dict:
        try:
            header = json.loads(header_path.read_text(encoding="utf-8"))
            dtype = np.dtype(header["dtype"])
            count = int(header["tokens"])
            sound = (header.get("format") == FORMAT and header.get("version") == VERSION
                     and dtype in (np.uint8, np.uint16, np.uint32) and count >= 0
                     and data_path.stat().st_size == count * dtype.itemsize
                     and [header["splits"][s][0] for s in SPLITS[1:]] == [header["splits"][s][1] for s in SPLITS[:-1]]
                     and header["splits"]["train"][0] == 0 and header["splits"]["test"][1] == count
                     and all(0 <= header["splits"][s][0] <= header["splits"][s][1] for s in SPLITS))
            state = tokenizer_from_json(header["tokenizer"])
            claimed = header["corpus"]["fingerprint"], file_key(header["corpus"]["fingerprint"], fractions, state)
            checksum = int(header["crc32"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            raise Mismatch("is damaged or from another seqgen") from None
        if not sound:
            raise Mismatch("is damaged or from another seqgen")
        if claimed != (fingerprint, key):
            raise Mismatch("belongs to another corpus or tokenizer than its name says (renamed or edited)")
        try:
            limit = int(vocab_size(state))
        except Exception:  # a tokenizer state that does not rebuild is a damaged header
            raise Mismatch("names a tokenizer that cannot be rebuilt (damaged)") from None
        try:
            found, largest = _scan(data_path, dtype)
        except OSError:
            raise Mismatch("cannot be read") from None
        if found != checksum:
            raise Mismatch("does not hold the ids its header describes (damaged or edited)")
        if largest >= limit:
            raise Mismatch(f"holds id {largest}, outside its tokenizer's {limit} (damaged or edited)")
        return header

    def alias(self, fit_key: str) -> Optional[str]:
        try:
            entry = json.loads((self.folder / f"fit-{fit_key}.json").read_text(encoding="utf-8"))
            return str(entry["key"]) if entry.get("fit") == fit_key else None  # a renamed entry is not trusted
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def write_alias(self, fit_key: str, key: str) -> None:
        _write_json(self.folder / f"fit-{fit_key}.json", {"fit": fit_key, "key": key})

    @contextlib.contextmanager
    def lock(self, key: str):
        """Hold the key while building, so two runs (or two ranks) on one corpus tokenise it once."""
        path = self.folder / f"{key}.lock"
        held = lock(path)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            held.acquire()
        except OSError as error:
            raise SeqgenError(f"cannot use the token cache's lock file {path} ({error.strerror or error}); remove "
                              "it, or set SEQGEN_CACHE to another folder") from None
        try:
            self._remove_partial(key)
            yield
        finally:
            held.release()

    def _remove_partial(self, key: str) -> None:
        """Half-written files of `key` that a killed process left (the lock is ours, so no live one writes)."""
        for stale in [*self.folder.glob(f"{key}.*.part"), *self.folder.glob(f".{key}.*{TEMPORARY}*")]:
            with contextlib.suppress(OSError):
                stale.unlink()

    def build(self, key: str, header: dict, pieces: Iterable[tuple[str, str]], encode: Callable[[str], np.ndarray],
              dtype: np.dtype, progress=None) -> TokenFile:
        """Encode the pieces (split, text) into <key>.bin and write its header; atomic, so a crash or a full
        disk leaves no half-written token file behind."""
        data_path, header_path = self.folder / f"{key}.bin", self.folder / f"{key}.json"
        offsets, count, split_now, checksum = {}, 0, None, 0
        try:
            with replacing(data_path) as partial:  # a crash or Ctrl-C leaves no half-written file behind
                with partial.open("wb") as out:
                    for split, text in pieces:
                        if split != split_now:
                            for name in SPLITS[:SPLITS.index(split) + 1]:  # an empty split begins where the next does
                                offsets.setdefault(name, count)
                            split_now = split
                        ids = np.ascontiguousarray(encode(text), dtype=dtype)
                        out.write(ids.data)
                        checksum = zlib.crc32(ids.data, checksum)
                        count += len(ids)
                        if progress is not None:
                            progress(len(text))
            for name in SPLITS:
                offsets.setdefault(name, count)
            bounds = [offsets[name] for name in SPLITS] + [count]
            header = {"format": FORMAT, "version": VERSION, "dtype": dtype.name, "tokens": count, **header,
                      "splits": {name: [bounds[i], bounds[i + 1]] for i, name in enumerate(SPLITS)},
                      "crc32": checksum}
            _write_json(header_path, header, strict=True)
        except OSError as error:
            hint = ("free some space, or set SEQGEN_CACHE to a writable folder with room for the tokenised corpus"
                    if error.errno in (errno.ENOSPC, errno.EDQUOT) else
                    "remove it, or set SEQGEN_CACHE to a writable folder")
            raise SeqgenError(f"could not write the token file {data_path} ({error.strerror or error}); "
                              f"{hint}") from None
        return _mapped(data_path, header)


def _mapped(data_path: Path, header: dict) -> TokenFile:
    dtype, count = np.dtype(header["dtype"]), int(header["tokens"])
    tokens = np.memmap(data_path, dtype=dtype, mode="c") if count else np.zeros(0, dtype=dtype)
    return TokenFile(data_path, header, tokens)


def _scan(path: Path, dtype: np.dtype, block: int = 1 << 24) -> tuple[int, int]:
    """(crc32, largest id) of a token file, read a block at a time (read, not mapped: the pages do not
    count against the process's memory)."""
    checksum, largest = 0, -1
    buffer = np.empty(block // dtype.itemsize, dtype=dtype)
    with open(path, "rb", buffering=0) as f:
        while True:
            read = f.readinto(memoryview(buffer).cast("B"))
            if not read:
                break
            ids = buffer[:read // dtype.itemsize]
            checksum = zlib.crc32(ids.data, checksum)
            if len(ids):
                largest = max(largest, int(ids.max()))
    return checksum, largest


def writable_cache() -> TokenCache:
    """The cache's token folder; a temporary one (with a warning) when the cache cannot be written."""
    cache = TokenCache()
    try:
        cache.folder.mkdir(parents=True, exist_ok=True)
        probe = cache.folder / f".probe.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return cache
    except OSError as error:
        folder = _fallback_folder(cache.folder, error)
        print(f"warning: could not write the token cache under {cache.folder} ({error.strerror or error}); tokenising "
              f"into {folder} for this run, removed when it ends (set SEQGEN_CACHE to a writable folder to tokenise "
              "once)", file=sys.stderr, flush=True)
        return TokenCache(folder)


FALLBACK_PREFIX = "seqgen-tokens-"
_fallback: dict = {}  # this process's fallback folder and the handle of its lock


def _fallback_folder(wanted: Path, reason: OSError) -> Path:
    """One temporary token folder per process, removed when the process ends; folders that processes killed
    before they could remove theirs are removed here (a folder's lock dies with its process)."""
    folder = _fallback.get("folder")
    if folder is not None and folder.is_dir():
        return folder
    _remove_abandoned_fallbacks()
    try:
        folder = Path(tempfile.mkdtemp(prefix=FALLBACK_PREFIX))
        held = try_lock(folder / ".lock")  # a folder made just now: no one else holds its lock
    except OSError as error:
        raise SeqgenError(f"could not write the token cache under {wanted} ({reason.strerror or reason}), nor a "
                          f"temporary folder ({error.strerror or error}); set SEQGEN_CACHE to a writable "
                          "folder") from None
    _fallback.update(folder=folder, lock=held)
    atexit.register(_remove_fallback, folder)
    return folder


def _remove_fallback(folder: Path) -> None:
    held = _fallback.pop("lock", None)
    _fallback.pop("folder", None)
    if held is not None:
        held.release()
    shutil.rmtree(folder, ignore_errors=True)


def _remove_abandoned_fallbacks() -> None:
    with contextlib.suppress(OSError):
        for folder in Path(tempfile.gettempdir()).glob(f"{FALLBACK_PREFIX}*"):
            try:
                if time.time() - folder.stat().st_mtime < 60 or not (folder / ".lock").is_file():
                    continue  # made a moment ago (its process may not hold its lock yet), or not one of ours
                held = try_lock(folder / ".lock")
            except OSError:
                continue
            if held is not None:  # taken: its process is gone
                held.release()
                shutil.rmtree(folder, ignore_errors=True)


def _key(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()[:24]


def key_of(**parts) -> str:
    return _key(parts)


def _write_json(path: Path, data: dict, strict: bool = False) -> None:
    """Write a small JSON file atomically; a failure is ignored (a cache entry only saves time) unless `strict`."""
    try:
        with replacing(path) as partial:
            partial.write_text(json.dumps(data), encoding="utf-8")
    except OSError:
        if strict:
            raise
