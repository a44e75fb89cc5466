"""The built-in corpus and data-set registry (one home for every name `--corpus` and `--test` accept), downloads
into a verified cache, and careful reading of text files."""

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
class Remote:
    """One file of a data set fetched by name: where it lies in the data set's cache folder, where it comes
    from and the bytes it must have. An archive (`unpacked` set: a .zip) is extracted into the folder `path`
    ("." for the data set's folder) instead of kept."""

    path: str
    url: str
    sha256: str
    size: int  # bytes; a response far larger is refused unread
    unpacked: Optional[int] = None  # an archive: the bytes of all its members together


@dataclass(frozen=True)
class Corpus:
    name: str
    kind: str
    description: str
    music21_path: Optional[str] = None  # relative to the installed music21 package
    url: Optional[str] = None
    sha256: Optional[str] = None
    size: Optional[int] = None  # text: bytes, for entries not yet downloaded; music: pieces
    files: tuple[Remote, ...] = ()  # a data set: its files, fetched into cache_dir()/data/<name>/
    roles: tuple[tuple[str, str], ...] = ()  # what a task reads → its file in that folder, e.g. ("test", "X_TEST.ts")
    source: Optional[str] = None  # the page that describes the data and where it comes from
    licence: Optional[str] = None
    column: Optional[str] = None  # a series: the column read without --column


# The kinds of data set: what they are, and the task that reads them (None: no task reads them yet).
DATA_KINDS = {
    "text": ("a text corpus", "language-model"),
    "music": ("a music corpus", "language-model"),
    "labelled": ("a classification data set", "classify"),
    "series": ("a forecasting series", "forecast"),
    "pairs": ("a translation corpus", "translate"),
    "piano-roll": ("a piano-roll corpus", "language-model"),
    "equipment": ("an equipment-health data set", "remaining-life"),
    "anomaly": ("an anomaly-detection benchmark", None),
}


CHORALES = 332  # the four-voice pieces among the 350 distinct files of music21's chorale iterator (see seqgen.music.corpus)


def _github(repository: str, commit: str, path: str) -> str:
    return f"https://raw.githubusercontent.com/{repository}/{commit}/{path}"


AEON = ("aeon-toolkit/aeon", "c80baf772dcf0e60aaaae87c27d1befdef90a7b4")  # aeon v1.3.0
UCR_TERMS = "none stated; the UCR/UEA archive asks users to cite Dau et al. 2019 and the data's donors"


def _aeon(path: str, sha256: str, size: int) -> Remote:
    return Remote(path.rsplit("/", 1)[-1], _github(*AEON, f"aeon/datasets/data/{path}"), sha256, size)


def _nab_files() -> tuple[Remote, ...]:
    from seqgen.data.nab_manifest import COMMIT, FILES

    return tuple(Remote(path, _github("numenta/NAB", COMMIT, path), sha256, int(size))
                 for sha256, size, path in (line.split(" ", 2) for line in FILES.splitlines() if line))


DATA_SETS = [
    Corpus("ecg200", "labelled", "ECG200: 100 + 100 heartbeats, 96 samples, 2 classes (UCR text, label first); "
           "--corpus reads TRAIN, --test TEST (the UCR archive's 2015 text files, from a GitHub mirror)",
           files=(Remote("ECG200_TRAIN.txt", _github("aashish-bidap/Heartbeat_KNN_Classifier",
                                                     "5e3ab88436acb773a26e9ab7756c7165b8718804", "ECG200_TRAIN.txt"),
                         "ed96989ec5d5ba7d651b4a3e3e905a8e09931999ed25458914f21faac0f7b3ce", 159_085),
                  Remote("ECG200_TEST.txt", _github("aashish-bidap/Heartbeat_KNN_Classifier",
                                                    "5e3ab88436acb773a26e9ab7756c7165b8718804", "ECG200_TEST.txt"),
                         "c665e09a1b1d2dedb37de7aef2a81866632e98f498460a0977f4d9bfebaffbb1", 159_209)),
           roles=(("train", "ECG200_TRAIN.txt"), ("test", "ECG200_TEST.txt")),
           source="https://www.timeseriesclassification.com/description.php?Dataset=ECG200", licence=UCR_TERMS),
    Corpus("basicmotions", "labelled", "BasicMotions: 40 + 40 watch recordings, 6 channels × 100 steps, 4 activities "
           "(.ts, as shipped by aeon); --corpus reads TRAIN, --test TEST",
           files=(_aeon("BasicMotions/BasicMotions_TRAIN.ts",
                        "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6", 227_790),
                  _aeon("BasicMotions/BasicMotions_TEST.ts",
                        "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc", 227_713)),
           roles=(("train", "BasicMotions_TRAIN.ts"), ("test", "BasicMotions_TEST.ts")),
           source="https://www.timeseriesclassification.com/description.php?Dataset=BasicMotions", licence=UCR_TERMS),
    Corpus("italypowerdemand", "labelled", "ItalyPowerDemand: 67 + 1,029 days of 24 hourly demands, 2 classes "
           "(.ts, as shipped by aeon); --corpus reads TRAIN, --test TEST",
           files=(_aeon("ItalyPowerDemand/ItalyPowerDemand_TRAIN.ts",
                        "341269cb7e6cef96846b30e774580beec79addb93848ba360145219115a74b7c", 18_300),
                  _aeon("ItalyPowerDemand/ItalyPowerDemand_TEST.ts",
                        "26122451f87dd0387ef90b18bc8a86c041371b8a1c068004922b939971247144", 274_054)),
           roles=(("train", "ItalyPowerDemand_TRAIN.ts"), ("test", "ItalyPowerDemand_TEST.ts")),
           source="https://www.timeseriesclassification.com/description.php?Dataset=ItalyPowerDemand",
           licence=UCR_TERMS),
    Corpus("uschange", "series", "US quarterly % changes 1970-2016: Consumption (the default column), Income, "
           "Production, Savings, Unemployment (fpp2, as shipped by aeon); for --task forecast --covariates",
           files=(_aeon("Uschange/Uschange.csv", "ab70b9bf82f99c962041bfd38dc9644f7a17930df71f24345bb71180f68809fe",
                        13_267),),
           roles=(("series", "Uschange.csv"),), column="Consumption",
           source="https://otexts.com/fpp2/ (the R package fpp2's uschange)",
           licence="fpp2 R package: GPL-3; the figures are US government statistics"),
    Corpus("jsb-chorales", "piano-roll", "JSB chorales, 229 / 76 / 77 pieces as quarter-note piano rolls, the split "
           "of Boulanger-Lewandowski et al. 2012 (czhuang/JSB-Chorales-dataset's JSON: the same pieces and frames "
           "as the .mat of Bai et al. 2018, not the same bytes)",
           files=(Remote("jsb-chorales-quarter.json",
                         _github("czhuang/JSB-Chorales-dataset", "9a7f733ddb4ed91f48da64ac7f0f621c34aadd4d",
                                 "jsb-chorales-quarter.json"),
                         "2db9329f1881a1d3f49703ec556bf1d6f84b4f6c1d702c156536e93cf31e1c91", 407_200),),
           roles=(("piano-roll", "jsb-chorales-quarter.json"),),
           source="https://github.com/czhuang/JSB-Chorales-dataset",
           licence="Bach's chorales are in the public domain; the repository states no licence"),
    Corpus("tatoeba-en-pt", "pairs", "10,000 English-Portuguese sentence pairs, the Tatoeba Challenge test split for "
           "eng-por (eng<TAB>por<TAB>English<TAB>Portuguese); seqgen splits it by line",
           files=(Remote("test.txt", _github("Helsinki-NLP/Tatoeba-Challenge", "8bdab36cca8d33f912981c080c81da9a32120b8e",
                                             "data/test/eng-por/test.txt"),
                         "843318b06d805a45e874d294f2b06df5d7b3de61c35a15b2421124a50c0f4e48", 775_140),),
           roles=(("pairs", "test.txt"),),
           source="https://github.com/Helsinki-NLP/Tatoeba-Challenge", licence="CC BY 2.0 FR (Tatoeba sentences)"),
    Corpus("cmapss-fd001", "equipment", "NASA C-MAPSS turbofan run-to-failure, subset FD001: 100 training engines, "
           "100 test engines and their true remaining cycles (train_FD001.txt, test_FD001.txt, RUL_FD001.txt; "
           "NASA's CMAPSSData files, from a GitHub mirror)",
           files=tuple(Remote(name, _github("alireza-javanmardi/conformal-RUL-intervals",
                                            "37e450ac8b656229d44aed3ac39dcf85ea11b86c", f"data/CMAPSS/{name}"),
                              sha256, size)
                       for name, sha256, size in (
                           ("train_FD001.txt", "963b5e22825b34d8b21c69e1aeb4af3e647050eb672ee8834ba4b5d91d2de0f8",
                            3_515_356),
                           ("test_FD001.txt", "3cda7109ce17bafb5443f2ac926cfcf88154b941b8c4cf95eb55d1ddd6f52851",
                            2_228_855),
                           ("RUL_FD001.txt", "a19c8ec94931949d0485bdc35118206e9c81c4547b422efb9cf86f4ceddbceca", 429),
                           ("readme.txt", "4f5270554b775c67e73aff383c5436fd329d6e4cc3d3a116913276fae511269b", 2_442))),
           roles=(("train", "train_FD001.txt"), ("test", "test_FD001.txt"), ("rul", "RUL_FD001.txt")),
           source="https://www.nasa.gov/intelligent-systems-division/discovery-and-systems-health/pcoe/"
                  "pcoe-data-set-repository/",
           licence="U.S. Government work (NASA), public domain"),
    Corpus("nab", "anomaly", "Numenta Anomaly Benchmark v1.0: 58 labelled series (data/<category>/<name>.csv), "
           "labels/combined_windows.json, config/ (profiles, thresholds), results/ (published scores)",
           files=_nab_files(), source="https://github.com/numenta/NAB", licence="MIT (its LICENSE.txt)"),
]


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
            source="https://github.com/karpathy/char-rnn",
            licence="the plays are in the public domain",
        ),
        *DATA_SETS,
    ]
}


# Built-in series shipped inside the package (seqgen/data/<file>), so they work offline.
BUILTIN_SERIES = {
    "airline": ("airline.csv", "passengers", "monthly international airline passengers, thousands, 1949-1960 (Box & Jenkins)", 12),
}


def cache_dir() -> Path:
    return Path(os.environ.get("SEQGEN_CACHE") or Path.home() / ".cache" / "seqgen")


def _music21_root() -> Path:
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise SeqgenError("music21 is not installed; reinstall seqgen with `pip install -e .`")
    return Path(spec.origin).parent


def corpus_path(corpus: Corpus, download: bool = True) -> Path:
    """Where the corpus's file (a data set: its folder) lies on disk, downloading it into the cache first if needed.

    A cached download is checked against its sha256 before use; a damaged or edited copy is
    replaced by a fresh download (with a warning), never read as if it were the corpus.
    """
    if corpus.music21_path:
        return _music21_root() / corpus.music21_path
    if corpus.files:
        return fetch_dataset(corpus) if download else dataset_dir(corpus)
    path = cache_dir() / f"{corpus.name}.txt"
    if download:
        _fetch_file(repr(corpus.name), Remote(path.name, corpus.url, corpus.sha256, corpus.size), path,
                    "download it yourself and pass --corpus FILE")
    return path


def dataset_dir(corpus: Corpus) -> Path:
    return cache_dir() / "data" / corpus.name


def fetch_dataset(corpus: Corpus) -> Path:
    """The data set's cache folder with each of its files there and verified: a missing file is downloaded, a
    damaged or edited one downloaded again (with a warning); each lands whole or not at all."""
    folder = dataset_dir(corpus)
    for remote in corpus.files:
        what = f"{remote.path if remote.path != '.' else 'archive'} of {corpus.name!r}"
        fix = f"download it yourself into {folder / remote.path}" if remote.unpacked is None else "try again later"
        if remote.unpacked is None:
            _fetch_file(what, remote, folder / remote.path, fix)
        else:
            _fetch_archive(what, remote, folder / remote.path, fix)
    return folder


def dataset_file(spec: str, role: str, task: str) -> Optional[Path]:
    """The file `task` reads as `role` ("train", "test", "series", …) of the data set named `spec`, fetched into
    the cache first if need be; None when `spec` names no data set (it is then a path). A name that another task
    reads is one line saying which."""
    corpus = REGISTRY.get(spec)
    if corpus is None:
        return None
    check_task(corpus, task)
    roles = dict(corpus.roles)
    if role not in roles:
        raise SeqgenError(f"the data set {spec!r} has no {role} file (it has: {', '.join(roles) or 'none'})")
    return fetch_dataset(corpus) / roles[role]


def cannot_read(path, error: OSError) -> SeqgenError:
    """The one line for a file that cannot be opened; a missing one whose name is close to a data set's name
    asks whether that name was meant (a mistyped name is otherwise read as a path)."""
    line = f"cannot read {path}: {error.strerror or error}"
    return SeqgenError(line + did_you_mean(path) if isinstance(error, FileNotFoundError) else line)


def did_you_mean(spec, names=()) -> str:
    """'; did you mean NAME? (`seqgen corpora` lists the data sets)' when `spec` is not the name of a data set (or
    of `names`) but close to one, else ''."""
    import difflib

    text, known = str(spec), [*REGISTRY, *names]
    if text in known or "/" in text or "\\" in text:
        return ""
    match = difflib.get_close_matches(text.lower(), known, n=1, cutoff=0.75)
    return f"; did you mean {match[0]!r}? (`seqgen corpora` lists the data sets)" if match else ""


def check_task(corpus: Corpus, task: str) -> None:
    """One line when the registry entry `corpus` is data for another task than `task`."""
    words, reader = DATA_KINDS[corpus.kind]
    if reader == task:
        return
    if reader is None:
        raise SeqgenError(f"{corpus.name!r} is {words} that no task reads yet; `seqgen corpora --fetch {corpus.name}` "
                          "puts its files in the cache")
    raise SeqgenError(f"{corpus.name!r} is {words}, not data for --task {task}; use it with --task {reader}, "
                      "or see `seqgen corpora`")


def _present(path: Path, what: str) -> bool:
    try:
        return path.exists()
    except OSError as error:  # e.g. a SEQGEN_CACHE path too long for the file system
        raise SeqgenError(f"cannot use the cache folder {path.parent} for {what} "
                          f"({error.strerror or error}); set SEQGEN_CACHE to a usable folder") from None


def _warn_damaged(what: str, path: Path) -> None:
    import sys

    print(f"warning: the cached copy of {what} at {path} does not match its sha256 (damaged or edited); "
          "downloading it again", file=sys.stderr, flush=True)


def _fetch_file(what: str, remote: Remote, path: Path, fix: str) -> None:
    """Make `path` hold the bytes of `remote`: kept when its sha256 matches, else downloaded (again)."""
    present = _present(path, what)
    if present and remote.sha256 and path.is_file() and _sha256(path) == remote.sha256:
        return
    if present and remote.sha256 and path.is_file():
        _warn_damaged(what, path)
    elif present and not remote.sha256:
        return
    _save(what, path, _download(what, remote, fix))


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


def _download(what: str, remote: Remote, fix: str) -> bytes:
    """The bytes at `remote.url`, refused in one line when they cannot be had, are far larger than expected or
    do not have the recorded sha256."""
    limit = 2 * remote.size if remote.size else None  # a response far larger than expected is not the data
    try:
        with urllib.request.urlopen(remote.url, timeout=30) as response:
            data = response.read(limit + 1) if limit else response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise SeqgenError(f"could not download {what} from {remote.url} ({reason}); check the network, or {fix}") from None
    if limit and len(data) > limit:
        raise SeqgenError(f"the download of {what} is over {limit:,} bytes, far larger than the corpus; "
                          "the file changed upstream, so it was not used")
    digest = hashlib.sha256(data).hexdigest()
    if remote.sha256 and digest != remote.sha256:
        raise SeqgenError(
            f"the download of {what} has sha256 {digest[:12]}…, expected {remote.sha256[:12]}…; "
            "the file changed upstream or the transfer was damaged, so it was not used"
        )
    return data


def _save(what: str, path: Path, data: bytes) -> None:
    try:
        with replacing(path) as partial:  # two runs downloading at once never share one
            partial.write_bytes(data)
    except OSError as error:
        raise SeqgenError(
            f"could not save the download of {what} to {path} ({error.strerror or error}); "
            "set SEQGEN_CACHE to a writable folder with free space"
        ) from None


ARCHIVE_MEMBERS = 100_000  # members of one archive at most


def _archive_marker(folder: Path, remote: Remote) -> Path:
    """The record of an extracted archive: its members and their sha256, written once all of them are in place."""
    return folder / f".archive-{remote.sha256[:16]}.json"


def _archive_intact(folder: Path, remote: Remote) -> bool | None:
    """True when every member the archive's record lists is in place unchanged; None when there is no record."""
    import json

    marker = _archive_marker(folder, remote)
    if not _exists(marker):
        return None
    try:
        members = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(members, dict) and all(_sha256(folder / name) == digest for name, digest in members.items())


def _fetch_archive(what: str, remote: Remote, folder: Path, fix: str) -> None:
    """Make `folder` hold the members of the zip archive `remote`, extracted safely: no member outside the folder
    (absolute paths, `..`, links), no more bytes than recorded; each member lands whole, the record last."""
    import io
    import json
    import zipfile

    intact = _archive_intact(folder, remote)
    if intact:
        return
    if intact is False:
        _warn_damaged(what, folder)
    data = _download(what, remote, fix)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError):
        raise SeqgenError(f"the download of {what} is not a readable zip archive, so it was not used") from None
    if len(infos) > ARCHIVE_MEMBERS:
        raise SeqgenError(f"the archive {what} holds {len(infos):,} files, more than {ARCHIVE_MEMBERS:,}; not extracted")
    budget, members = remote.unpacked, {}
    for info in infos:
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or ":" in parts[0] or ".." in parts or (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise SeqgenError(f"the archive {what} holds {name[:80]!r}, a path outside its folder or a link; not extracted")
        if info.file_size > budget:
            raise SeqgenError(f"the archive {what} unpacks to more than the {remote.unpacked:,} bytes recorded for it; "
                              "not extracted")
        try:
            with archive.open(info) as source:
                content = source.read(budget + 1)
        except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError) as error:
            raise SeqgenError(f"the archive {what} could not be read ({error}); not extracted") from None
        if len(content) > budget:
            raise SeqgenError(f"the archive {what} unpacks to more than the {remote.unpacked:,} bytes recorded for it; "
                              "not extracted")
        budget -= len(content)
        kept = "/".join(p for p in parts if p not in ("", "."))
        if not kept:
            raise SeqgenError(f"the archive {what} holds a member without a name; not extracted")
        members[kept] = content
    for name, content in members.items():
        _save(what, folder / name, content)
    _save(what, _archive_marker(folder, remote),
          json.dumps({name: hashlib.sha256(content).hexdigest() for name, content in members.items()}).encode())


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
        raise cannot_read(path, error) from None
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
        check_task(corpus, "language-model")
        return corpus.name, [corpus_path(corpus)], "utf-8"
    path = Path(spec).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise SeqgenError(f"the folder {path} holds no .txt files; put your text in .txt files")
        return path.name, files, encoding
    if path.is_file():
        return path.stem, [path], encoding
    hint = did_you_mean(spec)
    raise SeqgenError(f"no corpus named {spec!r} and no such file or folder" +
                      (hint or "; see `seqgen corpora` for the built-in names"))


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
    """One row per registry entry for `seqgen corpora`: name, kind, size, description, where it comes from
    (source, licence) and whether it is here (its path) or fetched on first use (from where)."""
    rows = []
    for corpus in REGISTRY.values():
        path = corpus_path(corpus, download=False)
        here, fetched = str(path), None
        if corpus.kind == "music":
            files = sum(1 for p in path.iterdir() if p.suffix.lower() in (".mxl", ".xml", ".krn", ".abc", ".mid")) if path.is_dir() else 0
            size = f"{corpus.size:,} pieces" if corpus.size else f"{files} files"
            source = "shipped with music21"
        elif corpus.files:
            size = _bytes(sum(remote.unpacked or remote.size for remote in corpus.files))
            source = corpus.source
            missing = [remote for remote in corpus.files
                       if not _exists(_archive_marker(path / remote.path, remote) if remote.unpacked else path / remote.path)]
            if missing:
                hosts = sorted({remote.url.split("/")[2] for remote in missing if "//" in remote.url})
                here = None
                fetched = (f"{len(missing)} of {len(corpus.files)} files" if len(missing) < len(corpus.files)
                           else f"{len(missing)} file{'s' if len(missing) > 1 else ''}") + f" from {', '.join(hosts)}"
        elif corpus.music21_path:
            size, source = f"{path.stat().st_size / 1e3:,.0f} kB" if _exists(path) else "", "shipped with music21"
        else:
            source = corpus.source or corpus.url
            if _exists(path):
                size = _bytes(path.stat().st_size)
            else:
                size, here, fetched = _bytes(corpus.size), None, corpus.url
        rows.append({"name": corpus.name, "kind": corpus.kind, "size": size, "description": corpus.description,
                     "source": source, "licence": corpus.licence, "here": here, "fetched": fetched})
    for name, (filename, _column, description, _season) in BUILTIN_SERIES.items():
        path = Path(__file__).parent / filename
        points = max(0, len(path.read_text().strip().splitlines()) - 1) if path.exists() else 0
        rows.append({"name": name, "kind": "series", "size": f"{points} points", "description": f"{description}; for --task forecast",
                     "source": "ships with seqgen", "licence": None, "here": str(path), "fetched": None})
    rows.append({"name": "dates", "kind": "pairs", "size": "generated",
                 "description": "dates written out in English and Portuguese words → ISO dates (1950-2049), made by "
                                "seqgen with a fixed test set; for --task translate (its default)",
                 "source": "generated by seqgen", "licence": None, "here": "(generated when a run starts)",
                 "fetched": None})
    return rows


def _bytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB" if size >= 1e6 else f"{size / 1e3:,.0f} kB"
