"""The built-in corpus registry, downloads into a verified cache, and careful reading of text files."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from seqgen.errors import SeqgenError

_BINARY_PROBE = 8192


@dataclass(frozen=True)
class Corpus:
    name: str
    kind: str
    description: str
    music21_path: Optional[str] = None  # relative to the installed music21 package
    url: Optional[str] = None
    sha256: Optional[str] = None
    size: Optional[int] = None  # text: bytes, for entries not yet downloaded; music: pieces


def _excerpt(name: str, language: str, code: str, description: str) -> Corpus:
    return Corpus(name, "text", f"{description} ({language})", music21_path=f"languageExcerpts/trainingData/{code}.txt")


REGISTRY: dict[str, Corpus] = {
    corpus.name: corpus
    for corpus in [
        _excerpt("lady-susan", "English", "en", "Jane Austen, Lady Susan"),
        _excerpt("french", "French", "fr", "prose excerpts shipped with music21"),
        _excerpt("german", "German", "de", "prose excerpts shipped with music21"),
        _excerpt("italian", "Italian", "it", "prose excerpts shipped with music21"),
        _excerpt("latin", "Latin", "la", "prose excerpts shipped with music21"),
        _excerpt("dutch", "Dutch", "nl", "prose excerpts shipped with music21"),
        Corpus("bach", "music", "J. S. Bach, chorales and other pieces in MusicXML / Humdrum, shipped with music21",
               music21_path="corpus/bach", size=413),
        Corpus("oneills", "music", "O'Neill's Music of Ireland (1850), folk tunes in ABC, shipped with music21",
               music21_path="corpus/oneills1850", size=2009),
        Corpus("essen", "music", "the Essen folk-song collection in ABC, shipped with music21 (slow first parse)",
               music21_path="corpus/essenFolksong", size=8514),
        Corpus(
            "tinyshakespeare",
            "text",
            "Shakespeare's plays, the char-rnn corpus (downloaded once, then cached)",
            url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            size=1_115_394,
        ),
    ]
}


def cache_dir() -> Path:
    return Path(os.environ.get("SEQGEN_CACHE") or Path.home() / ".cache" / "seqgen")


def _music21_root() -> Path:
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise SeqgenError("music21 is not installed; reinstall seqgen with `pip install -e .`")
    return Path(spec.origin).parent


def corpus_path(corpus: Corpus, download: bool = True) -> Path:
    """Where the corpus's file lies on disk, downloading it into the cache first if needed."""
    if corpus.music21_path:
        return _music21_root() / corpus.music21_path
    path = cache_dir() / f"{corpus.name}.txt"
    if not path.exists() and download:
        _download(corpus, path)
    return path


def _download(corpus: Corpus, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(corpus.url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise SeqgenError(
            f"could not download corpus {corpus.name!r} from {corpus.url} ({reason}); "
            f"check the network, or download it yourself and pass --corpus FILE"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if corpus.sha256 and digest != corpus.sha256:
        raise SeqgenError(
            f"the download of {corpus.name!r} has sha256 {digest[:12]}…, expected {corpus.sha256[:12]}…; "
            "the file changed upstream or the transfer was damaged, so it was not used"
        )
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    os.replace(partial, path)


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    """Read one text file, refusing empty, binary or wrongly decoded files with a clear message."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SeqgenError(f"cannot read {path}: {error.strerror or error}") from None
    if not data.strip():
        raise SeqgenError(f"{path} is empty; give a file with text in it")
    if not encoding.lower().replace("-", "").startswith("utf16") and b"\x00" in data[:_BINARY_PROBE]:
        raise SeqgenError(f"{path} looks like a binary file, not text; give a plain-text file")
    try:
        text = data.decode(encoding)
    except LookupError:
        raise SeqgenError(f"unknown text encoding {encoding!r}; use a Python codec name such as utf-8 or latin-1") from None
    except UnicodeDecodeError as error:
        raise SeqgenError(
            f"{path} is not valid {encoding} (byte 0x{data[error.start]:02x} at offset {error.start}); "
            "pass its encoding, e.g. --encoding latin-1, or convert the file to UTF-8"
        ) from None
    return text.replace("\r\n", "\n").lstrip("\ufeff")


def load_corpus(spec: str, encoding: str = "utf-8") -> tuple[str, str]:
    """Return (name, text) for a registry name, a text file, or a folder of .txt files."""
    if spec in REGISTRY:
        corpus = REGISTRY[spec]
        return corpus.name, read_text_file(corpus_path(corpus), "utf-8")
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise SeqgenError(f"the folder {path} holds no .txt files; put your text in .txt files")
        return path.name, "\n".join(read_text_file(p, encoding) for p in files)
    if path.is_file():
        return path.stem, read_text_file(path, encoding)
    raise SeqgenError(
        f"no corpus named {spec!r} and no such file or folder; see `seqgen corpora` for the built-in names"
    )


def describe_corpora() -> list[dict]:
    """One row per registry entry for `seqgen corpora`: name, kind, size, where it comes from."""
    rows = []
    for corpus in REGISTRY.values():
        path = corpus_path(corpus, download=False)
        if corpus.kind == "music":
            files = sum(1 for p in path.iterdir() if p.suffix.lower() in (".mxl", ".xml", ".krn", ".abc", ".mid")) if path.is_dir() else 0
            size = f"{corpus.size:,} pieces" if corpus.size else f"{files} files"
            where = str(path)
        elif path.exists():
            size, where = f"{path.stat().st_size / 1e3:,.0f} kB", str(path)
        else:
            size, where = f"{corpus.size / 1e3:,.0f} kB", f"{corpus.url} (not yet downloaded)"
        rows.append({"name": corpus.name, "kind": corpus.kind, "size": size, "description": corpus.description, "source": where})
    from seqgen.data.series import BUILTIN_SERIES

    for name, (filename, column, description, season) in BUILTIN_SERIES.items():
        path = Path(__file__).parent / filename
        points = max(0, len(path.read_text().strip().splitlines()) - 1) if path.exists() else 0
        rows.append({"name": name, "kind": "series", "size": f"{points} points", "description": f"{description}; for --task forecast",
                     "source": str(path)})
    return rows
