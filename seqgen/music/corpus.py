"""Music corpora: built-in music21 collections or folders of files, parsed in parallel and cached."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import sys
from pathlib import Path

from tqdm import tqdm

from seqgen.data.corpora import REGISTRY, cache_dir, corpus_path
from seqgen.errors import SeqgenError
from seqgen.music.events import MusicTokenizer, semitones_to_c, transpose_piece
from seqgen.music.scores import MUSIC_SUFFIXES, parse_file


def music_files(spec: str) -> tuple[str, list[Path]]:
    """(name, files) for a registry name, a folder of music files, or one music file."""
    if spec in REGISTRY:
        path, name = corpus_path(REGISTRY[spec]), spec
    else:
        path = Path(spec).expanduser()
        name = path.stem if path.is_file() else path.name
    if path.is_file():
        return name, [path]
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


def _parse_job(args):
    path, grid, max_bar = args
    return parse_file(path, grid, max_bar)


def load_pieces(spec: str, tokenizer: MusicTokenizer, progress: bool = True) -> tuple[str, list[dict], list[tuple[str, str]]]:
    """Parse every file once (in parallel), reusing the on-disk cache keyed by content and settings.

    Returns (name, pieces, skipped) where skipped lists (file, reason) for files with no usable notes.
    """
    name, files = music_files(spec)
    results: dict[Path, tuple[list, str | None]] = {}
    todo = []
    for path in files:
        try:
            cached = _cache_file(path, tokenizer)
        except OSError as error:
            results[path] = ([], f"could not be read: {error.strerror}")
            continue
        if cached.exists():
            data = json.loads(cached.read_text())
            results[path] = (data["pieces"], data["skipped"])
        else:
            todo.append((path, cached))
    if todo:
        jobs = [(str(path), tokenizer.grid, tokenizer.max_bar) for path, _ in todo]
        bar = tqdm(total=len(jobs), desc=f"parsing {name}", unit="file", file=sys.stderr, disable=not progress)
        workers = min(len(jobs), os.cpu_count() or 1)
        if workers > 1 and len(jobs) >= 8:  # worker start-up (importing music21) costs more than a few files
            context = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                outputs = []
                for output in pool.map(_parse_job, jobs, chunksize=1):
                    outputs.append(output)
                    bar.update()
        else:
            outputs = []
            for job in jobs:
                outputs.append(_parse_job(job))
                bar.update()
        bar.close()
        for (path, cached), (pieces, skipped) in zip(todo, outputs):
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_text(json.dumps({"file": str(path), "pieces": pieces, "skipped": skipped}))
            os.replace(tmp, cached)
            results[path] = (pieces, skipped)
    pieces, skipped = [], []
    for path in files:
        found, reason = results[path]
        pieces.extend(found)
        if reason:
            skipped.append((path.name, reason))
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
