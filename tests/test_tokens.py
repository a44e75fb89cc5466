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
