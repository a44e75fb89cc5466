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
from seqgen.files import replacing


@dataclass(frozen=True)
class Corpus:
    name: str
    kind: str
    description: str
    music21_path: Optional[str] = None  # relative to the installed music21 package
    url: Optional[str] = None
    sha256: Optional[str] = None
    size: Optional[int] = None  # text: bytes, for entries not yet downloaded; music: pieces


CHORALES = 332  # the four-voice pieces among the 350 distinct files of music21's chorale iterator (see seqgen.music.corpus)


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
        Corpus("chorales", "music", "J. S. Bach's four-part chorales, soprano, alto, tenor and bass (music21's chorale "
               "iterator), shipped with music21", music21_path="corpus/bach", size=CHORALES),
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
    """Where the corpus's file lies on disk, downloading it into the cache first if needed.

    A cached download is checked against its sha256 before use; a damaged or edited copy is
    replaced by a fresh download (with a warning), never read as if it were the corpus.
    """
    if corpus.music21_path:
        return _music21_root() / corpus.music21_path
    path = cache_dir() / f"{corpus.name}.txt"
    try:
        present = path.exists()
    except OSError as error:  # e.g. a SEQGEN_CACHE path too long for the file system
        if not download:
            return path
        raise SeqgenError(f"cannot use the cache folder {path.parent} for corpus {corpus.name!r} "
                          f"({error.strerror or error}); set SEQGEN_CACHE to a usable folder") from None
    if download and corpus.sha256 and present and path.is_file() and _sha256(path) != corpus.sha256:
        import sys

        print(f"warning: the cached copy of {corpus.name!r} at {path} does not match its sha256 (damaged or edited); "
              "downloading it again", file=sys.stderr, flush=True)
        _download(corpus, path)
    elif not present and download:
        _download(corpus, path)
    return path


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # a path the file system refuses (too long, …) holds nothing
        return False


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _download(corpus: Corpus, path: Path) -> None:
    limit = 2 * corpus.size if corpus.size else None  # a response far larger than expected is not the corpus
    try:
        with urllib.request.urlopen(corpus.url, timeout=30) as response:
            data = response.read(limit + 1) if limit else response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise SeqgenError(
            f"could not download corpus {corpus.name!r} from {corpus.url} ({reason}); "
            f"check the network, or download it yourself and pass --corpus FILE"
        ) from None
    if limit and len(data) > limit:
        raise SeqgenError(f"the download of {corpus.name!r} is over {limit:,} bytes, far larger than the corpus; "
                          "the file changed upstream, so it was not used")
    digest = hashlib.sha256(data).hexdigest()
    if corpus.sha256 and digest != corpus.sha256:
        raise SeqgenError(
            f"the download of {corpus.name!r} has sha256 {digest[:12]}…, expected {corpus.sha256[:12]}…; "
            "the file changed upstream or the transfer was damaged, so it was not used"
        )
    try:
        with replacing(path) as partial:  # two runs downloading at once never share one
            partial.write_bytes(data)
    except OSError as error:
        raise SeqgenError(
            f"could not save the download of {corpus.name!r} to {path} ({error.strerror or error}); "
            "set SEQGEN_CACHE to a writable folder with free space"
        ) from None


_BOMS = [  # longest first: the UTF-32-LE mark begins with the UTF-16-LE one
    (b"\xff\xfe\x00\x00", "UTF-32", "le"),
    (b"\x00\x00\xfe\xff", "UTF-32", "be"),
    (b"\xff\xfe", "UTF-16", "le"),
    (b"\xfe\xff", "UTF-16", "be"),
]
_WIDE_PROBE = 4096  # bytes looked at for the NUL pattern of UTF-16 / UTF-32 text without a byte-order mark


def _reads_as_text(sample: bytes, codec: str) -> bool:
    """Whether the start of a file decodes in `codec` to text: no NUL, few other control characters."""
    import codecs

    try:
        text = codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    controls = sum(1 for c in text if c < " " and c not in "\t\n\r\f\v")
    return bool(text) and "\x00" not in text and controls <= len(text) // 20


def _wide_encoding(data: bytes) -> tuple[str, str, bool] | None:
    """(family, byte order, has a byte-order mark) when the bytes look like UTF-16 or UTF-32 text.

    A byte-order mark says so; without one, text that is mostly ASCII has a NUL at every other
    byte (UTF-16) or three of every four (UTF-32), which binary files rarely do. Either way the
    start of the file must then decode to text.
    """
    sample = data[:_WIDE_PROBE]
    for mark, family, order in _BOMS:
        if sample.startswith(mark):
            return (family, order, True) if _reads_as_text(sample, f"{family.lower()}-{order}") else None
    for width, family in ((4, "UTF-32"), (2, "UTF-16")):
        units = len(sample) // width
        if units < 2:
            continue
        lanes = [sample[lane:units * width:width].count(0) / units for lane in range(width)]
        for order, text_lane in (("le", 0), ("be", width - 1)):
            if lanes[text_lane] <= 0.1 and all(share >= 0.9 for lane, share in enumerate(lanes) if lane != text_lane):
                if _reads_as_text(sample, f"{family.lower()}-{order}"):
                    return family, order, False
    return None


def _wide_mismatch(data: bytes, codec: str) -> str | None:
    """The codec to suggest when the file is UTF-16 / UTF-32 text that `codec` would misread, else None."""
    import sys

    wide = _wide_encoding(data)
    if wide is None:
        return None
    family, order, marked = wide
    suggestion = family.lower() if marked else f"{family.lower()}-{order}"
    if not codec.startswith(family.lower()):
        return suggestion
    if codec.endswith(("-le", "-be")):
        return suggestion if codec[-2:] != order else None
    # a generic utf-16 / utf-32 codec follows the mark, or reads the machine's order without one
    native = "le" if sys.byteorder == "little" else "be"
    return None if marked or order == native else suggestion


CHUNK_BYTES = 1 << 24  # bytes read and decoded at a time: a corpus of any size streams in 16 MB pieces


def _codec(encoding: str) -> str:
    import codecs

    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise SeqgenError(f"unknown text encoding {encoding!r}; use a Python codec name such as utf-8 or latin-1") from None
    if not getattr(info, "_is_text_encoding", True):  # a codec that exists but is no text encoding (rot13, hex, …)
        raise SeqgenError(f"{encoding!r} is not a text encoding; use one such as utf-8 or latin-1")
    return info.name


def iter_text_file(path: Path, encoding: str = "utf-8", chunk_bytes: int = CHUNK_BYTES):
    """Yield the text of one file a piece at a time (never the whole file in memory), with the checks of
    `read_text_file`: empty, binary or wrongly decoded files raise SeqgenError, wherever the fault lies.
    Windows line ends become "\n" and a leading byte-order mark is dropped."""
    import codecs

    path = Path(path)
    codec = _codec(encoding)
    try:
        if path.exists() and not path.is_file():  # a folder, device or pipe: /dev/zero would be read for ever
            raise SeqgenError(f"{path} is not a regular file; give a text file")
        handle = path.open("rb")
    except OSError as error:
        raise SeqgenError(f"cannot read {path}: {error.strerror or error}") from None
    with handle:
        decoder = codecs.getincrementaldecoder(encoding)()
        offset, started, seen_text, held = 0, False, False, ""
        while True:
            try:
                data = handle.read(chunk_bytes)
            except OSError as error:
                raise SeqgenError(f"cannot read {path}: {error.strerror or error}") from None
            final = len(data) < chunk_bytes
            if offset == 0:
                if final and not data.strip():
                    raise SeqgenError(f"{path} is empty; give a file with text in it")
                suggestion = _wide_mismatch(data, codec)
                if suggestion:
                    raise SeqgenError(f"{path} looks like {suggestion[:6].upper()} text; pass --encoding {suggestion} "
                                      "(or convert it to UTF-8)")
            if not codec.startswith(("utf-16", "utf-32")) and b"\x00" in data:  # a C-level scan, cheap even for large corpora
                raise SeqgenError(f"{path} looks like a binary file, not text (a NUL byte at offset "
                                  f"{offset + data.index(0)}); give a plain-text file")
            pending = decoder.getstate()[0]  # bytes of a character cut by the last piece's end
            try:
                text = decoder.decode(data, final=final)
            except UnicodeDecodeError as error:
                buffer = pending + data
                where = (f"byte 0x{buffer[error.start]:02x} at offset {offset - len(pending) + error.start}"
                         if error.start < len(buffer) else "at its end")
                raise SeqgenError(f"{path} is not valid {encoding} ({where}); "
                                  "pass its encoding, e.g. --encoding latin-1, or convert the file to UTF-8") from None
            except (UnicodeError, ValueError, TypeError) as error:  # codecs such as idna or punycode fail in their own ways
                raise SeqgenError(f"{path} could not be decoded as {encoding} ({error}); pass its encoding or convert "
                                  "it to UTF-8") from None
            offset += len(data)
            text = held + text
            held = ""
            if text.endswith("\r") and not final:  # a "\r\n" may be cut between two pieces
                text, held = text[:-1], "\r"
            if "\r" in text:
                text = text.replace("\r\n", "\n")
            if not started:
                text = text.lstrip("\ufeff")
                started = bool(text)
            if "\x00" in text:  # a NUL character decoded from UTF-16 / UTF-32 (or an unusual codec)
                raise SeqgenError(f"{path} looks like a binary file, not {encoding} text (it holds NUL characters); "
                                  "give a plain-text file")
            seen_text = seen_text or bool(text.strip())
            if text:
                yield text
            if final:
                break
    if not seen_text:
        raise SeqgenError(f"{path} is empty; give a file with text in it")


def read_text_file(path: Path, encoding: str = "utf-8") -> str:
    """Read one text file, refusing empty, binary or wrongly decoded files with a clear message."""
    return "".join(iter_text_file(path, encoding))


def corpus_files(spec: str, encoding: str = "utf-8") -> tuple[str, list[Path], str]:
    """(name, files, encoding) of a text corpus: a registry name, a text file, or a folder of .txt files
    (read in sorted order, joined by a newline)."""
    if spec in REGISTRY:
        corpus = REGISTRY[spec]
        return corpus.name, [corpus_path(corpus)], "utf-8"
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise SeqgenError(f"the folder {path} holds no .txt files; put your text in .txt files")
        return path.name, files, encoding
    if path.is_file():
        return path.stem, [path], encoding
    raise SeqgenError(
        f"no corpus named {spec!r} and no such file or folder; see `seqgen corpora` for the built-in names"
    )


def iter_corpus(files: list[Path], encoding: str = "utf-8"):
    """The text of a corpus's files a piece at a time, a newline between files (as `load_corpus` joins them)."""
    for index, path in enumerate(files):
        if index:
            yield "\n"
        yield from iter_text_file(path, encoding)


def load_corpus(spec: str, encoding: str = "utf-8") -> tuple[str, str]:
    """Return (name, text) for a registry name, a text file, or a folder of .txt files."""
    name, files, encoding = corpus_files(spec, encoding)
    return name, "".join(iter_corpus(files, encoding))


def describe_corpora() -> list[dict]:
    """One row per registry entry for `seqgen corpora`: name, kind, size, where it comes from."""
    rows = []
    for corpus in REGISTRY.values():
        path = corpus_path(corpus, download=False)
        if corpus.kind == "music":
            files = sum(1 for p in path.iterdir() if p.suffix.lower() in (".mxl", ".xml", ".krn", ".abc", ".mid")) if path.is_dir() else 0
            size = f"{corpus.size:,} pieces" if corpus.size else f"{files} files"
            where = str(path)
        elif _exists(path):
            size, where = f"{path.stat().st_size / 1e3:,.0f} kB", str(path)
        else:
            size, where = f"{corpus.size / 1e3:,.0f} kB", f"{corpus.url} (not yet downloaded)"
        rows.append({"name": corpus.name, "kind": corpus.kind, "size": size, "description": corpus.description, "source": where})
    from seqgen.data.series import BUILTIN_SERIES

    for name, (filename, _column, description, _season) in BUILTIN_SERIES.items():
        path = Path(__file__).parent / filename
        points = max(0, len(path.read_text().strip().splitlines()) - 1) if path.exists() else 0
        rows.append({"name": name, "kind": "series", "size": f"{points} points", "description": f"{description}; for --task forecast",
                     "source": str(path)})
    return rows
