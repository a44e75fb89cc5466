"""Music corpora: built-in music21 collections or folders of files, parsed in parallel and cached."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import math
import multiprocessing
import sys
from pathlib import Path

from tqdm import tqdm

from seqgen.data.corpora import REGISTRY, cache_dir, corpus_path
from seqgen.errors import SeqgenError
from seqgen.files import replacing
from seqgen.music.events import MusicTokenizer, semitones_to_c, transpose_piece
from seqgen.music.scores import MUSIC_SUFFIXES, parse_file
from seqgen.threads import usable_cpus

CHORALES = "chorales"


def chorale_files() -> list[Path]:
    """The files of music21's chorale iterator, in its (Riemenschneider) order, each once: several numbers
    share a file."""
    from music21.corpus import chorales, getWork

    files: list[Path] = []
    for work in chorales.Iterator(returnType="filename"):
        found = getWork(work)
        candidates = [Path(str(p)) for p in (found if isinstance(found, list) else [found])]
        # a name may match several files (bwv281.krn and .mxl; bwv69.6.xml and bwv69.6-a.mxl): take the one
        # named exactly so, MusicXML first, as music21's own parse of the name does
        exact = [p for p in candidates if p.stem == work.split("/")[-1]] or candidates
        path = min(exact, key=lambda p: (p.suffix.lower() not in (".mxl", ".xml", ".musicxml"), p.suffix.lower() != ".mxl"))
        if path not in files:
            files.append(path)
    return files


def four_voices(pieces: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
    """The pieces with exactly four parts, each lower on average than the one above (soprano, alto, tenor,
    bass), and (name, why) for the others."""
    kept, dropped = [], []
    for piece in pieces:
        by_part: dict[int, list[int]] = {}
        for note in piece["notes"]:
            by_part.setdefault(note[2], []).append(note[3])
        means = [sum(by_part[p]) / len(by_part[p]) for p in sorted(by_part)]
        if sorted(by_part) != [0, 1, 2, 3]:
            dropped.append((piece["name"], f"not four voices ({len(by_part)} parts)"))
        elif any(high <= low for high, low in zip(means, means[1:])):
            dropped.append((piece["name"], "parts not ordered soprano, alto, tenor, bass"))
        else:
            kept.append(piece)
    return kept, dropped


def music_files(spec: str) -> tuple[str, list[Path]]:
    """(name, files) for a registry name, a folder of music files, or one music file."""
    if spec == CHORALES:
        return spec, chorale_files()
    if spec in REGISTRY:
        path, name = corpus_path(REGISTRY[spec]), spec
    else:
        path = Path(spec).expanduser()
        name = path.stem if path.is_file() else path.name
    if path.is_file():
        return name, [path]
    if not path.is_dir():
        raise SeqgenError(f"no music corpus named {spec!r} and no such file or folder; see `seqgen corpora` for the built-in names")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MUSIC_SUFFIXES
                   and not p.name.startswith("."))
    if not files:
        raise SeqgenError(f"{path} holds no music files ({', '.join(MUSIC_SUFFIXES)})")
    return name, files


def is_music_corpus(spec: str) -> bool:
    if spec in REGISTRY:
        return REGISTRY[spec].kind == "music"
    path = Path(spec).expanduser()
    if path.is_file():
        return path.suffix.lower() in MUSIC_SUFFIXES
    if path.is_dir():
        return not any(path.rglob("*.txt")) and any(p.suffix.lower() in MUSIC_SUFFIXES for p in path.rglob("*"))
    return False


def _cache_file(path: Path, tokenizer: MusicTokenizer) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    return cache_dir() / "music" / f"{digest}-{tokenizer.settings_key()}.json"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _is_int(value, low: int, high: int | None = None) -> bool:
    return type(value) is int and value >= low and (high is None or value < high)


_MAX_BARS = 1_000_000  # far beyond any real piece; a larger bar number is a damaged entry (and would encode for ever)


def _piece_problem(piece, tokenizer: MusicTokenizer) -> str | None:
    """Why a piece read from the cache is not one parse_file could have made, or None."""
    if not isinstance(piece, dict) or not isinstance(piece.get("name"), str):
        return "a piece is not a mapping with a name"
    notes = piece.get("notes")
    if not isinstance(notes, list) or not notes:
        return "a piece has no list of notes"
    steps = tokenizer.max_bar * tokenizer.grid
    for item in notes:
        if not (isinstance(item, list) and len(item) == 5 and _is_int(item[0], 0, _MAX_BARS) and _is_int(item[1], 0, steps)
                and _is_int(item[2], 0) and _is_int(item[3], 0, 128) and _is_int(item[4], 1)):
            return f"a note is not [bar, position, part, pitch, duration] in range: {json.dumps(item)[:40]}"
    signatures = piece.get("time_signatures", [])
    if not isinstance(signatures, list) or not all(
            isinstance(s, list) and len(s) == 3 and _is_int(s[0], 0, _MAX_BARS) and _is_int(s[1], 1) and _is_int(s[2], 1)
            for s in signatures):
        return "a time signature is not [bar, numerator, denominator]"
    if piece.get("key_sharps") is not None and type(piece["key_sharps"]) is not int:
        return "a key signature is not a whole number of sharps"
    tempo = piece.get("tempo")
    if tempo is not None and not (type(tempo) in (int, float) and math.isfinite(tempo) and tempo > 0):
        return "a tempo is not a positive number"
    return None


def _read_entry(cached: Path, tokenizer: MusicTokenizer) -> tuple[tuple[list, str | None] | None, str | None]:
    """((pieces, skipped), None) from a sound cache entry; (None, None) when there is none;
    (None, why) when it is damaged (bad JSON, a wrong structure or type), so the file is parsed again."""
    try:
        raw = cached.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    except OSError as error:
        return None, f"unreadable: {error.strerror or error}"
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None, "not valid JSON"
    if not isinstance(data, dict) or not isinstance(data.get("pieces"), list):
        return None, "no list of pieces"
    skipped = data.get("skipped")
    if not (skipped is None or isinstance(skipped, str)) or (not data["pieces"] and not skipped):
        return None, "no reason given for a file without pieces"
    for piece in data["pieces"]:
        problem = _piece_problem(piece, tokenizer)
        if problem:
            return None, problem
    return (data["pieces"], skipped), None


def _write_entry(cached: Path, entry: dict) -> str | None:
    """Write one cache entry atomically (JSON, never pickle); the reason it failed, or None."""
    try:
        text = json.dumps(entry, allow_nan=False)
        with replacing(cached) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except (OSError, ValueError) as error:
        return getattr(error, "strerror", None) or str(error) or type(error).__name__
    return None


def _parse_job(args):
    path, grid, max_bar = args
    return parse_file(path, grid, max_bar)


def load_pieces(spec: str, tokenizer: MusicTokenizer, progress: bool = True) -> tuple[str, list[dict], list[tuple[str, str]]]:
    """Parse every file once (in parallel), reusing the on-disk cache keyed by content and settings.

    Returns (name, pieces, skipped) where skipped lists (file, reason) for files with no usable notes.
    """
    name, files = music_files(spec)
    results: dict[Path, tuple[list, str | None]] = {}
    todo, damaged = [], []
    for path in files:
        try:
            cached = _cache_file(path, tokenizer)
        except OSError as error:
            results[path] = ([], f"could not be read: {error.strerror}")
            continue
        entry, why = _read_entry(cached, tokenizer)
        if entry is not None:
            results[path] = entry
        else:
            if why:
                damaged.append(f"{path.name}: {why}")
            todo.append((path, cached))
    if damaged:
        shown = "; ".join(damaged[:3]) + (f"; and {len(damaged) - 3} more" if len(damaged) > 3 else "")
        _warn(f"discarded {len(damaged)} damaged music cache entr{'y' if len(damaged) == 1 else 'ies'} "
              f"under {cache_dir() / 'music'} ({shown}); parsing the file(s) again")
    if todo:
        jobs = [(str(path), tokenizer.grid, tokenizer.max_bar) for path, _ in todo]
        bar = tqdm(total=len(jobs), desc=f"parsing {name}", unit="file", file=sys.stderr, disable=not progress)
        workers = min(len(jobs), usable_cpus().usable)  # the CPUs this process may use (affinity, cgroup quota)
        if workers > 1 and len(jobs) >= 8:  # worker start-up (importing music21) costs more than a few files
            context = multiprocessing.get_context("spawn")
            outputs = []
            try:
                with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                    for output in pool.map(_parse_job, jobs, chunksize=1):
                        outputs.append(output)
                        bar.update()
            except concurrent.futures.process.BrokenProcessPool:
                bar.close()
                raise SeqgenError(f"a process parsing {name} died (out of memory, or killed) after {len(outputs)} of "
                                  f"{len(jobs)} files; the files parsed so far are not cached, so run again with more "
                                  "memory free") from None
        else:
            outputs = []
            for job in jobs:
                outputs.append(_parse_job(job))
                bar.update()
        bar.close()
        unwritten = None
        for (path, cached), (pieces, skipped) in zip(todo, outputs):
            results[path] = (pieces, skipped)
            if unwritten is None:
                unwritten = _write_entry(cached, {"file": str(path), "pieces": pieces, "skipped": skipped})
        if unwritten:
            _warn(f"could not write the music cache under {cache_dir() / 'music'} ({unwritten}); "
                  "the files will be parsed again next time (set SEQGEN_CACHE to a writable folder)")
    pieces, skipped = [], []
    for path in files:
        found, reason = results[path]
        pieces.extend(found)
        if reason:
            skipped.append((path.name, reason))
    if spec == CHORALES:
        pieces, dropped = four_voices(pieces)
        skipped += dropped
    if not pieces:
        raise SeqgenError(f"no usable music in {spec}: all {len(files)} file(s) were skipped "
                          f"({'; '.join(f'{f}: {r}' for f, r in skipped[:3])})")
    return name, pieces, skipped


def split_pieces(pieces: list[dict]) -> dict[str, list[dict]]:
    """By piece, never within one: of every 20 pieces in corpus order, the 19th is validation, the 20th test."""
    parts = {"train": [], "val": [], "test": []}
    for index, piece in enumerate(pieces):
        slot = index % 20
        parts["val" if slot == 18 else "test" if slot == 19 else "train"].append(piece)
    if not parts["val"] and len(parts["train"]) > 1:
        parts["val"].append(parts["train"].pop())
    return parts


def prepare_pieces(pieces: list[dict], transpose: str, augment: int) -> list[dict]:
    """Transpose to C major / A minor by key signature ("common"), then add copies shifted by ±1…augment semitones."""
    out = []
    for piece in pieces:
        if transpose == "common" and piece.get("key_sharps") is not None:
            piece = transpose_piece(piece, semitones_to_c(piece["key_sharps"])) or piece
        out.append(piece)
        for shift in range(-augment, augment + 1):
            if shift:
                moved = transpose_piece(piece, shift)
                if moved is not None:
                    out.append(moved)
    return out
