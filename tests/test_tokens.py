"""Token files: a corpus read in pieces and tokenised once into the cache, then memory-mapped; the ids
are those of encoding each split whole, a second run does not tokenise again, and a changed, damaged
or unwritable cache is handled."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen.data import tokens as token_files
from seqgen.data.corpora import iter_text_file, read_text_file
from seqgen.data.text import split_text
from seqgen.tasks.language_model import data as lm_data
from seqgen.tasks.language_model.data import load_splits
from seqgen.tokenizers.char import CharTokenizer

TEXTS = st.text(alphabet=st.sampled_from(list("ab \n\r\t☃é€𝄞")), min_size=1, max_size=300).filter(str.strip)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(text=TEXTS, chunk=st.integers(1, 40), bom=st.booleans(), encoding=st.sampled_from(["utf-8", "utf-16"]))
def test_a_file_read_in_pieces_is_the_file_read_whole(tmp_path_factory, text, chunk, bom, encoding):
    path = tmp_path_factory.mktemp("t") / "x.txt"
    data = text.encode(encoding)
    if bom and encoding == "utf-8":
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    expected = text.replace("\r\n", "\n")
    assert "".join(iter_text_file(path, encoding, chunk_bytes=chunk)) == read_text_file(path, encoding)
    assert read_text_file(path, encoding) == expected.lstrip("\ufeff")


@settings(max_examples=80, deadline=None)
@given(text=TEXTS, cuts=st.lists(st.integers(1, 50), max_size=8), val=st.sampled_from([0.0, 0.1, 0.3]),
       test=st.sampled_from([0.0, 0.2]), whole_lines=st.booleans())
def test_pieces_rebuild_each_split_exactly(text, cuts, val, test, whole_lines):
    chunks, rest = [], text
    for cut in cuts:
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    bounds = token_files.split_bounds(len(text), val, test)
    pieces = list(token_files.split_pieces([c for c in chunks if c], bounds, whole_lines))
    joined = {name: "".join(t for s, t in pieces if s == name) for name in ("train", "val", "test")}
    assert joined == split_text(text, val, test)
    if whole_lines:  # a piece ends at a newline, a split's end or the corpus's end, never inside a line
        ends = {bounds[0], bounds[1], len(text)}
        position = 0
        for _, piece in pieces:
            position += len(piece)
            assert piece.endswith("\n") or position in ends


def test_token_file_holds_each_split_encoded_whole_and_is_reused(tiny_train, corpus_file, monkeypatch):
    splits = load_splits(tiny_train, progress=False)
    text = corpus_file.read_text(encoding="utf-8")
    parts = split_text(text, tiny_train.val_fraction, tiny_train.test_fraction)
    tokenizer = CharTokenizer.fit(text)
    for name, part in parts.items():
        assert np.array_equal(splits.ids[name], tokenizer.encode(part))
    assert isinstance(splits.ids["train"], np.memmap) and splits.ids["train"].dtype == np.uint8
    assert splits.characters == {name: len(part) for name, part in parts.items()}

    def no_second_pass(*args, **kwargs):
        raise AssertionError("tokenised twice")

    monkeypatch.setattr(lm_data, "_tokenise", no_second_pass)
    monkeypatch.setattr(token_files, "survey", no_second_pass)
    again = load_splits(tiny_train, progress=False)
    assert again.fingerprint == splits.fingerprint
    assert np.array_equal(again.ids["val"], splits.ids["val"])
    # the checkpoint's own tokenizer (a resume, `seqgen evaluate`) finds the same file
    reused = load_splits(tiny_train, splits.tokenizer.to_state(), progress=False)
    assert np.array_equal(reused.ids["test"], splits.ids["test"])


def test_a_corpus_changed_on_disk_is_tokenised_again(tiny_train, corpus_file):
    before = load_splits(tiny_train, progress=False)
    corpus_file.write_text(corpus_file.read_text(encoding="utf-8").upper() + "Zebra!\n", encoding="utf-8")
    after = load_splits(tiny_train, progress=False)
    assert after.fingerprint != before.fingerprint
    assert "Z" in after.tokenizer.chars and after.tokenizer.decode(after.ids["train"][:20]).isupper()


def test_subword_token_file_matches_encoding_each_split(tiny_train, corpus_file):
    config = dataclasses.replace(tiny_train, tokenizer="bpe", vocab_size=320)
    splits = load_splits(config, progress=False)
    parts = split_text(corpus_file.read_text(encoding="utf-8"), config.val_fraction, config.test_fraction)
    for name, part in parts.items():
        assert np.array_equal(splits.ids[name], splits.tokenizer.encode(part))
    assert splits.ids["train"].dtype == np.uint16  # 320 ids: the smallest unsigned type that holds them


def test_a_damaged_token_file_is_rebuilt(tiny_train, capsys):
    first = load_splits(tiny_train, progress=False)
    path = first.ids["train"].filename
    with open(path, "r+b") as f:
        f.truncate(10)
    again = load_splits(tiny_train, progress=False)
    assert "damaged" in capsys.readouterr().err
    assert np.array_equal(again.ids["train"], np.asarray(first.tokenizer.encode(
        split_text(first.tokenizer.decode(np.concatenate([again.ids[s] for s in ("train", "val", "test")])),
                   tiny_train.val_fraction, tiny_train.test_fraction)["train"])))


def test_an_unwritable_cache_warns_and_still_trains(tiny_train, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SEQGEN_CACHE", str(blocker))
    splits = load_splits(tiny_train, progress=False)
    assert "could not write the token cache" in capsys.readouterr().err
    assert len(splits.ids["train"]) > 0


@pytest.mark.parametrize("vocab, dtype", [(2, np.uint8), (256, np.uint8), (257, np.uint16), (65536, np.uint16),
                                          (65537, np.uint32)])
def test_token_dtype_is_the_smallest_unsigned_type(vocab, dtype):
    assert token_files.token_dtype(vocab) == dtype


# -- a token file is the one asked for, or it is rebuilt ---------------------------------------------------------

@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache of the test's own: the tests below damage and swap its entries."""
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _entries(splits) -> tuple:
    data = splits.ids["train"].filename
    return data, data.with_suffix(".json")


def _texts_of(splits) -> str:
    return splits.tokenizer.decode(np.concatenate([splits.ids[s] for s in token_files.SPLITS]))


def test_swapped_token_files_are_rebuilt_not_trained_on(own_cache, tiny_train, corpus_file, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text(corpus_file.read_text(encoding="utf-8").upper(), encoding="utf-8")
    config_b = dataclasses.replace(tiny_train, corpus=str(other))
    a, b = load_splits(tiny_train, progress=False), load_splits(config_b, progress=False)
    for x, y in zip(_entries(a), _entries(b)):  # the two entries change places, header and ids alike
        x.rename(tmp_path / "swap")
        y.rename(x)
        (tmp_path / "swap").rename(y)
    again = load_splits(tiny_train, progress=False)
    assert "another corpus or tokenizer" in capsys.readouterr().err
    assert _texts_of(again) == corpus_file.read_text(encoding="utf-8")
    assert _texts_of(load_splits(config_b, progress=False)) == other.read_text(encoding="utf-8")


def test_ids_swapped_under_a_sound_header_are_rebuilt(own_cache, tiny_train, corpus_file, tmp_path, capsys):
    text = corpus_file.read_text(encoding="utf-8")
    other = tmp_path / "other.txt"
    other.write_text("\n".join(reversed(text.split("\n"))), encoding="utf-8")  # same characters, same length
    a = load_splits(tiny_train, progress=False)
    b = load_splits(dataclasses.replace(tiny_train, corpus=str(other)), progress=False)
    assert _entries(a)[0].stat().st_size == _entries(b)[0].stat().st_size
    _entries(a)[0].write_bytes(_entries(b)[0].read_bytes())
    again = load_splits(tiny_train, progress=False)
    assert "does not hold the ids its header describes" in capsys.readouterr().err
    assert _texts_of(again) == text


def test_ids_outside_the_tokenizer_are_rebuilt_even_under_a_forged_checksum(own_cache, tiny_train, corpus_file, capsys):
    import json
    import zlib

    first = load_splits(tiny_train, progress=False)
    data, header = _entries(first)
    ids = np.fromfile(data, dtype=np.uint8)
    ids[5] = 250  # the vocabulary has a few dozen characters
    ids.tofile(data)
    forged = json.loads(header.read_text())
    forged["crc32"] = zlib.crc32(ids.tobytes())
    header.write_text(json.dumps(forged))
    again = load_splits(tiny_train, progress=False)
    assert "outside its tokenizer" in capsys.readouterr().err
    assert _texts_of(again) == corpus_file.read_text(encoding="utf-8")


def test_a_renamed_fit_entry_is_not_trusted(own_cache, tiny_train, corpus_file):
    char = load_splits(tiny_train, progress=False)
    bpe_config = dataclasses.replace(tiny_train, tokenizer="bpe", vocab_size=320)
    load_splits(bpe_config, progress=False)
    folder = _entries(char)[0].parent
    fits = sorted(folder.glob("fit-*.json"), key=lambda p: p.stat().st_mtime_ns)[-2:]
    contents = [p.read_bytes() for p in fits]
    fits[0].write_bytes(contents[1])
    fits[1].write_bytes(contents[0])
    assert load_splits(tiny_train, progress=False).tokenizer.kind == "char"
    assert load_splits(bpe_config, progress=False).tokenizer.kind == "bpe"


@pytest.mark.slow
def test_a_damaged_token_file_is_rebuilt_on_the_command_line_in_train_and_evaluate(own_cache, corpus_file, tmp_path):
    from conftest import run

    tiny = ["--hidden-size", 16, "--embedding-dim", 8, "--num-layers", 1, "--batch-size", 2, "--bptt", 8,
            "--eval-batch-size", 2, "--device", "cpu", "--quiet", "--sample-length", 0]
    first = run("train", "--corpus", corpus_file, "--max-steps", 2, "--output-dir", tmp_path, "--name", "a", *tiny)
    assert first.exit_code == 0, first.output
    for data in token_files.cache_dir().glob("tokens/*.bin"):
        data.write_bytes(b"\xff" * data.stat().st_size)  # ids far outside any small vocabulary
    again = run("train", "--corpus", corpus_file, "--max-steps", 2, "--output-dir", tmp_path, "--name", "b", *tiny)
    assert again.exit_code == 0 and "tokenising again" in again.output, again.output
    for data in token_files.cache_dir().glob("tokens/*.bin"):
        data.write_bytes(b"\xff" * data.stat().st_size)
    scored = run("evaluate", tmp_path / "a", "--split", "test")
    assert scored.exit_code == 0 and "tokenising again" in scored.output, scored.output


# -- the cache folder: a lock that is a folder, an unwritable cache, fallback folders ----------------------------

def test_a_lock_in_the_token_cache_that_is_a_folder_is_one_line(own_cache, tiny_train, corpus_file):
    from conftest import one_line_error, run

    fingerprint = token_files.survey([corpus_file.read_text(encoding="utf-8")]).fingerprint
    fit_key = token_files.key_of(corpus=fingerprint, splits=[tiny_train.val_fraction, tiny_train.test_fraction],
                                 kind="char", vocab=None)
    (token_files.cache_dir() / "tokens" / f"{fit_key}.lock").mkdir(parents=True)
    line = one_line_error(run("train", "--corpus", corpus_file, "--max-steps", 1, "--output-dir",
                              tiny_train.output_dir, "--device", "cpu", "--quiet"))
    assert f"{fit_key}.lock" in line and "remove it" in line


@pytest.mark.slow
def test_fallback_token_folders_are_removed_when_the_process_ends(corpus_file, tmp_path):
    import os
    import subprocess
    import sys

    blocker, temp = tmp_path / "not-a-folder", tmp_path / "tmp"
    blocker.write_text("")
    temp.mkdir()
    abandoned = temp / f"{token_files.FALLBACK_PREFIX}old"  # left by a process killed long ago
    abandoned.mkdir()
    (abandoned / ".lock").write_text("")
    (abandoned / "x.bin").write_bytes(b"\x00" * 10)
    os.utime(abandoned, (1, 1))
    code = ("import sys; from seqgen.tasks.language_model.data import load_splits; "
            "from seqgen.tasks.language_model import TrainConfig; "
            f"s = load_splits(TrainConfig(corpus={str(corpus_file)!r}), progress=False); "
            "print(s.ids['train'].filename.parent)")
    env = {**os.environ, "SEQGEN_CACHE": str(blocker), "TMPDIR": str(temp)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    used = done.stdout.strip().splitlines()[-1]
    assert used.startswith(str(temp)) and "removed when it ends" in done.stderr
    assert list(temp.iterdir()) == []  # its own folder and the abandoned one are gone


def test_no_writable_cache_and_no_temporary_folder_is_one_line(corpus_file, tmp_path, monkeypatch):
    from conftest import one_line_error, run

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("SEQGEN_CACHE", str(blocker))
    monkeypatch.setattr(token_files.tempfile, "tempdir", str(blocker / "tmp"))
    monkeypatch.setattr(token_files, "_fallback", {})
    line = one_line_error(run("train", "--corpus", corpus_file, "--max-steps", 1, "--output-dir", tmp_path / "runs",
                              "--device", "cpu", "--quiet"))
    assert "SEQGEN_CACHE" in line


@pytest.mark.slow
def test_a_cache_path_the_file_system_refuses_is_a_warning_or_one_line(corpus_file, tmp_path, monkeypatch):
    from conftest import one_line_error, run

    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / ("x" * 300)))  # a name too long for the file system
    monkeypatch.setattr(token_files, "_fallback", {})
    trained = run("train", "--corpus", corpus_file, "--max-steps", 1, "--output-dir", tmp_path / "runs",
                  "--device", "cpu", "--quiet", "--sample-length", 0, "--hidden-size", 8, "--embedding-dim", 8)
    assert trained.exit_code == 0 and "could not write the token cache" in trained.output, trained.output
    line = one_line_error(run("train", "--corpus", "tinyshakespeare", "--max-steps", 1, "--quiet"))
    assert "SEQGEN_CACHE" in line and "too long" in line
    listed = run("corpora")
    assert listed.exit_code == 0 and "tinyshakespeare" in listed.output
