"""Data sets fetched by name: each task reads its split of a named data set where it reads a file; downloads are
verified by sha256, cached, re-fetched when damaged, refused in one line when wrong or unreachable; archives are
extracted safely. Every download here comes from a local HTTP server, never the network."""

import dataclasses
import functools
import hashlib
import http.server
import io
import re
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error, run

from seqgen.data import corpora
from seqgen.data.corpora import REGISTRY, Corpus, Remote
from seqgen.errors import SeqgenError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GUIDE_NAMES = ("ecg200", "basicmotions", "italypowerdemand", "uschange", "jsb-chorales", "tatoeba-en-pt",
               "cmapss-fd001", "nab")
QUIET = ["--device", "cpu", "--quiet"]
TINY_CLASSIFY = ["--epochs", 1, "--ensemble", 1, "--hidden-size", 8, "--conv-channels", 4, "--batch-size", 8, *QUIET]


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(served folder, base URL) of a local HTTP server; the cache is a fresh folder."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class QuietServer(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a client that stops reading (seqgen refusing an oversized download) is not the test's output

    httpd = QuietServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _serve(monkeypatch, served: Path, base: str, name: str, files: dict, kind="labelled", roles=None, **extra):
    """Register data set `name` whose files (path → bytes) the server holds."""
    remotes = []
    for path, data in files.items():
        (served / name / path).parent.mkdir(parents=True, exist_ok=True)
        (served / name / path).write_bytes(data)
        remotes.append(Remote(path, f"{base}/{name}/{path}", hashlib.sha256(data).hexdigest(), len(data)))
    entry = Corpus(name, kind, "a test data set", files=tuple(remotes), roles=tuple((roles or {}).items()),
                   source="https://example.org/data", licence="CC0", **extra)
    monkeypatch.setitem(REGISTRY, name, entry)
    return entry


def _ucr(n, seed):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = 1 if i % 2 else 2
        values = (1 if label == 1 else -1) * np.linspace(-1, 1, 20) + 0.3 * rng.standard_normal(20)
        lines.append(" ".join([str(label)] + [f"{v:.4f}" for v in values]))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def tiny_ucr(server, monkeypatch):
    served, base = server
    _serve(monkeypatch, served, base, "tiny-ucr", {"T_TRAIN.txt": _ucr(16, 0), "T_TEST.txt": _ucr(8, 1)},
           roles={"train": "T_TRAIN.txt", "test": "T_TEST.txt"})
    return served / "tiny-ucr"


# -- the registry -----------------------------------------------------------------------------------------------

def test_every_data_set_of_the_guides_has_a_pinned_source_licence_and_sha256():
    for name in GUIDE_NAMES:
        entry = REGISTRY[name]
        assert entry.files and entry.source and entry.licence, name
        for remote in entry.files:
            assert re.fullmatch(r"https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/.+", remote.url), remote.url
            assert re.fullmatch(r"[0-9a-f]{64}", remote.sha256) and remote.size > 0
    assert len(REGISTRY["nab"].files) == 126 and sum(f.path.startswith("data/") and f.path.endswith(".csv")
                                                       for f in REGISTRY["nab"].files) == 58


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared data folder beside the repository")
def test_the_recorded_sha256_are_those_of_the_benchmarked_copies():
    copies = {"ecg200": "ecg200", "basicmotions": "basicmotions", "italypowerdemand": "italypowerdemand",
              "uschange": "uschange", "tatoeba-en-pt": "tatoeba-eng-por", "cmapss-fd001": "cmapss", "nab": "nab"}
    for name, folder in copies.items():
        for remote in REGISTRY[name].files:
            data = (SHARED / folder / remote.path).read_bytes()
            assert (hashlib.sha256(data).hexdigest(), len(data)) == (remote.sha256, remote.size), (name, remote.path)


@pytest.mark.skipif(not SHARED.is_dir(), reason="needs the shared data folder beside the repository")
def test_ecg200_by_name_trains_on_train_and_scores_test(server, monkeypatch, tmp_path):
    """The real files, served locally at the registry's paths: `--corpus ecg200` reads TRAIN, `--test ecg200` TEST."""
    served, base = server
    entry = REGISTRY["ecg200"]
    (served / "ecg200").mkdir()
    for remote in entry.files:
        shutil.copyfile(SHARED / "ecg200" / remote.path, served / "ecg200" / remote.path)
    monkeypatch.setitem(REGISTRY, "ecg200", dataclasses.replace(entry, files=tuple(
        dataclasses.replace(r, url=f"{base}/ecg200/{r.path}") for r in entry.files)))
    result = run("train", "--task", "classify", "--corpus", "ecg200", "--test", "ecg200", *TINY_CLASSIFY,
                 "--output-dir", tmp_path / "runs", "--name", "ecg")
    assert result.exit_code == 0, result.output
    result = run("evaluate", tmp_path / "runs" / "ecg", "--test", "ecg200")
    assert result.exit_code == 0 and "100 examples" in result.output, result.output


# -- fetching, the cache ----------------------------------------------------------------------------------------

def test_a_named_data_set_is_fetched_once_then_read_from_the_cache(tiny_ucr, tmp_path):
    result = run("train", "--task", "classify", "--corpus", "tiny-ucr", "--test", "tiny-ucr", *TINY_CLASSIFY,
                 "--output-dir", tmp_path / "runs", "--name", "first")
    assert result.exit_code == 0, result.output
    cached = tmp_path / "cache" / "data" / "tiny-ucr"
    assert sorted(p.name for p in cached.iterdir()) == ["T_TEST.txt", "T_TRAIN.txt"]
    shutil.rmtree(tiny_ucr)  # the second run and the evaluation must come from the cache
    result = run("train", "--task", "classify", "--corpus", "tiny-ucr", *TINY_CLASSIFY,
                 "--output-dir", tmp_path / "runs", "--name", "second")
    assert result.exit_code == 0, result.output
    result = run("evaluate", tmp_path / "runs" / "first")  # the run's --test, by its name
    assert result.exit_code == 0 and "8 examples" in result.output, result.output
    result = run("classify", tmp_path / "runs" / "first", "tiny-ucr")  # a named data set's TEST split, classified
    assert result.exit_code == 0 and len(result.output.strip().splitlines()) == 1 + 8, result.output


def test_a_damaged_cached_file_is_fetched_again_with_one_warning(tiny_ucr, capsys):
    path = corpora.dataset_file("tiny-ucr", "test", "classify")
    good = path.read_bytes()
    path.write_bytes(good.replace(b"1", b"2", 1))
    capsys.readouterr()
    assert corpora.dataset_file("tiny-ucr", "test", "classify").read_bytes() == good
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "does not match its sha256" in err


def test_a_download_with_the_wrong_sha256_is_refused_in_one_line_and_not_kept(tiny_ucr, tmp_path):
    (tiny_ucr / "T_TRAIN.txt").write_bytes(_ucr(16, 5))  # changed upstream
    line = one_line_error(run("train", "--task", "classify", "--corpus", "tiny-ucr", *QUIET))
    assert "T_TRAIN.txt of 'tiny-ucr' has sha256" in line and "not used" in line
    assert not (tmp_path / "cache" / "data" / "tiny-ucr" / "T_TRAIN.txt").exists()


def test_offline_is_one_line_naming_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    entry = REGISTRY["uschange"]
    monkeypatch.setitem(REGISTRY, "uschange", dataclasses.replace(entry, files=tuple(
        dataclasses.replace(r, url="http://127.0.0.1:9/Uschange.csv") for r in entry.files)))
    line = one_line_error(run("train", "--task", "forecast", "--corpus", "uschange", *QUIET))
    assert "could not download Uschange.csv of 'uschange'" in line and "check the network" in line
    assert str(tmp_path / "cache" / "data" / "uschange" / "Uschange.csv") in line


def test_a_download_far_larger_than_recorded_is_refused(tiny_ucr, tmp_path):
    (tiny_ucr / "T_TRAIN.txt").write_bytes(b"1 " * 100_000)
    line = one_line_error(run("train", "--task", "classify", "--corpus", "tiny-ucr", *QUIET))
    assert "far larger" in line
    assert not (tmp_path / "cache" / "data" / "tiny-ucr" / "T_TRAIN.txt").exists()


# -- archives -----------------------------------------------------------------------------------------------------

def _zip(members: dict, links=()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16  # a symbolic link
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _serve_zip(monkeypatch, served, base, data: bytes, unpacked: int):
    (served / "set.zip").write_bytes(data)
    remote = Remote(".", f"{base}/set.zip", hashlib.sha256(data).hexdigest(), len(data), unpacked=unpacked)
    monkeypatch.setitem(REGISTRY, "zipped", Corpus("zipped", "anomaly", "t", files=(remote,), source="s", licence="l"))


def test_an_archive_is_extracted_verified_and_kept(server, monkeypatch, tmp_path, capsys):
    served, base = server
    _serve_zip(monkeypatch, served, base, _zip({"data/a.csv": "t,v\n1,2\n", "labels.json": "{}"}), unpacked=100)
    folder = corpora.corpus_path(REGISTRY["zipped"])
    assert (folder / "data" / "a.csv").read_text() == "t,v\n1,2\n" and (folder / "labels.json").is_file()
    (served / "set.zip").unlink()
    (folder / "data" / "a.csv").write_text("edited")  # damaged: fetched again, and the server no longer has it
    with pytest.raises(SeqgenError, match="could not download archive of 'zipped'"):
        corpora.corpus_path(REGISTRY["zipped"])
    assert "does not match its sha256" in capsys.readouterr().err


@pytest.mark.parametrize("members, links, unpacked, expected", [
    ({"../escape.txt": "x"}, (), 100, "outside its folder"),
    ({"/etc/evil.txt": "x"}, (), 100, "outside its folder"),
    ({"ok.txt": "x"}, ("link",), 100, "a link"),
    ({"bomb.txt": "0" * 1_000_000}, (), 1_000, "more than the 1,000 bytes"),
])
def test_a_malicious_or_oversized_archive_is_refused_and_nothing_written(server, monkeypatch, tmp_path, members, links,
                                                                         unpacked, expected):
    served, base = server
    _serve_zip(monkeypatch, served, base, _zip(members, links), unpacked)
    with pytest.raises(SeqgenError, match=expected) as caught:
        corpora.corpus_path(REGISTRY["zipped"])
    assert "\n" not in str(caught.value)
    cache = tmp_path / "cache"
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))
    assert not (tmp_path / "escape.txt").exists()


def test_a_download_that_is_not_a_zip_is_refused(server, monkeypatch):
    served, base = server
    _serve_zip(monkeypatch, served, base, b"PK but not really a zip archive", unpacked=100)
    with pytest.raises(SeqgenError, match="not a readable zip archive"):
        corpora.corpus_path(REGISTRY["zipped"])


# -- each task reads its split -------------------------------------------------------------------------------------

def test_forecast_pairs_and_piano_roll_data_sets_are_read_by_name(server, monkeypatch, tmp_path):
    served, base = server
    quarters = "".join(f"{i},{1970 + i // 4} Q{i % 4 + 1},{np.sin(i):.3f},{np.cos(i):.3f}\n" for i in range(40))
    _serve(monkeypatch, served, base, "us", {"us.csv": (",Quarter,Consumption,Income\n" + quarters).encode()},
           kind="series", roles={"series": "us.csv"}, column="Consumption")
    from seqgen.data.series import load_series

    series, season = load_series("us", covariates=["Income"])
    assert (series.name, series.column, len(series.values), list(series.covariates)) == ("us", "Consumption", 40, ["Income"])
    pairs = "".join(f"eng\tpor\tword {i}\tpalavra {i}\n" for i in range(50)).encode()
    _serve(monkeypatch, served, base, "pt", {"test.txt": pairs}, kind="pairs", roles={"pairs": "test.txt"})
    from seqgen.data.pairs import load_pairs

    name, splits, _ = load_pairs("pt", train_size=0, seed=0, val_fraction=0.1, test_fraction=0.1)
    assert name == "pt" and sum(map(len, splits.values())) == 50 and splits["train"][0][1].startswith("palavra")
    result = run("train", "--task", "translate", "--corpus", "pt", "--max-steps", 2, "--eval-interval", 2,
                 "--embedding-dim", 8, "--hidden-size", 8, "--batch-size", 4, "--sample-length", 0, *QUIET,
                 "--output-dir", tmp_path / "runs", "--name", "pt")
    assert result.exit_code == 0, result.output
    result = run("evaluate", tmp_path / "runs" / "pt", "--pairs", "pt", "--beam-size", 2)  # every pair of the set
    assert result.exit_code == 0 and "50 pairs" in result.output, result.output
    _serve(monkeypatch, served, base, "rolls", {"r.json": b'{"train": [[[60, 64], [62]]], "valid": [], "test": []}'},
           kind="piano-roll", roles={"piano-roll": "r.json"})
    from seqgen.data.pianoroll import is_pianoroll_corpus, read_pianoroll

    assert is_pianoroll_corpus("rolls") and read_pianoroll("rolls") == ("rolls", {"train": [[[60, 64], [62]]],
                                                                                  "val": [], "test": []})


# -- seqgen corpora ------------------------------------------------------------------------------------------------

def test_corpora_lists_every_entry_with_its_source_and_whether_it_is_here(tiny_ucr):
    before = run("corpora")
    assert before.exit_code == 0
    for name, entry in REGISTRY.items():
        assert re.search(rf"^{re.escape(name)}\s", before.output, re.M), name
        if entry.source:
            assert f"source: {entry.source}" in before.output
    block = before.output.split("tiny-ucr", 1)[1]
    assert "licence: CC0" in block and "not here: fetched on first use (2 files from 127.0.0.1" in block
    fetched = run("corpora", "--fetch", "tiny-ucr")
    assert fetched.exit_code == 0 and fetched.output.strip().endswith("data/tiny-ucr")
    after = run("corpora").output.split("tiny-ucr", 1)[1]
    assert "here: " + fetched.output.strip() in after.splitlines()[2]


def test_remaining_life_reads_a_named_set_its_test_file_and_true_remaining_steps(server, monkeypatch, tmp_path):
    """`--corpus NAME --test NAME` of an equipment data set: the train file, the test file and, with it, the rul
    file, with no --test-targets to give; `seqgen evaluate RUN --test NAME` scores the same units."""
    from test_remaining_life import SMALL, degrading

    served, base = server
    train, _ = degrading(10, 0)
    test, truth = degrading(6, 1, truncate=True)
    table = lambda rows: "".join(" ".join(f"{v:g}" for v in row) + "\n" for row in rows).encode()  # noqa: E731
    _serve(monkeypatch, served, base, "tiny-engines",
           {"train.txt": table(train), "test.txt": table(test), "rul.txt": "".join(f"{int(x)}\n" for x in truth).encode()},
           kind="equipment", roles={"train": "train.txt", "test": "test.txt", "rul": "rul.txt"})
    options = [f"--{key.replace('_', '-')}={value}" for key, value in SMALL.items() if key != "progress"]
    result = run("train", "--task", "remaining-life", "--corpus", "tiny-engines", "--test", "tiny-engines", *options,
                 "--output-dir", tmp_path / "runs", "--name", "engines")
    assert result.exit_code == 0, result.output
    scored = run("evaluate", tmp_path / "runs" / "engines", "--test", "tiny-engines")
    assert scored.exit_code == 0 and "6 test units" in scored.output, scored.output
    assert "cache/data/tiny-engines/test.txt" in scored.output.replace("\\", "/")
    wrong = run("train", "--task", "forecast", "--corpus", "tiny-engines")
    assert wrong.exit_code != 0 and "use it with --task remaining-life" in wrong.output
