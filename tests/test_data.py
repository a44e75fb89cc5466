import functools
import hashlib
import http.server
import threading

import pytest
import torch

from seqgen.data import corpora
from seqgen.data.corpora import Corpus, load_corpus, read_text_file
from seqgen.data.text import batchify, split_text, window, windows_per_pass
from seqgen.errors import SeqgenError


def test_split_is_contiguous_by_position():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    parts = split_text(text, 0.1, 0.05)
    assert parts["train"] + parts["val"] + parts["test"] == text
    assert (len(parts["train"]), len(parts["val"]), len(parts["test"])) == (850, 100, 50)


def test_windows_cover_contiguous_streams_with_shifted_targets():
    ids = torch.arange(1003)
    streams = batchify(ids, 4, offset=3)  # (4, 250)
    assert streams.shape == (4, 250)
    # each row continues the text where the row above left off
    assert torch.equal(streams.flatten(), ids[3:1003])
    bptt = 16
    count = windows_per_pass(streams.size(1), bptt)
    seen_inputs = []
    for index in range(count):
        inputs, targets = window(streams, index, bptt)
        assert torch.equal(targets[:, :-1], inputs[:, 1:])  # targets are the inputs shifted by one
        assert torch.equal(targets, inputs + 1)  # ...and the next token of the original text
        seen_inputs.append(inputs)
    # consecutive windows are contiguous, so carried state sees unbroken text
    joined = torch.cat(seen_inputs, dim=1)
    assert torch.equal(joined, streams[:, :-1])


def test_empty_binary_and_latin1_files_get_clear_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(SeqgenError, match="empty"):
        read_text_file(empty)
    binary = tmp_path / "data.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SeqgenError, match="binary"):
        read_text_file(binary)
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Ça coûte très cher à l'été.\n".encode("latin-1"))
    with pytest.raises(SeqgenError, match="--encoding latin-1"):
        read_text_file(latin)
    assert read_text_file(latin, "latin-1").startswith("Ça coûte")


def test_folder_corpus_joins_its_text_files(tmp_path):
    (tmp_path / "b.txt").write_text("second\n")
    (tmp_path / "a.txt").write_text("first\r\n")
    (tmp_path / "notes.bin").write_bytes(b"\x00\x01")
    name, text = load_corpus(str(tmp_path))
    assert text == "first\n\nsecond\n"


def test_unknown_corpus_name_points_to_the_list():
    with pytest.raises(SeqgenError, match="seqgen corpora"):
        load_corpus("no-such-corpus-anywhere")


def test_builtin_english_corpus_is_offline():
    name, text = load_corpus("lady-susan")
    assert name == "lady-susan" and "Susan" in text and len(text) > 100_000


@pytest.fixture
def local_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_download_is_verified_and_cached(local_server, tmp_path, monkeypatch):
    served, base = local_server
    data = "To be, or not to be.\n".encode()
    (served / "input.txt").write_bytes(data)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    entry = Corpus("remote", "text", "test", url=f"{base}/input.txt", sha256=hashlib.sha256(data).hexdigest())
    monkeypatch.setitem(corpora.REGISTRY, "remote", entry)
    assert load_corpus("remote") == ("remote", "To be, or not to be.\n")
    (served / "input.txt").unlink()  # a second load must come from the cache
    assert load_corpus("remote")[1] == "To be, or not to be.\n"


def test_download_with_wrong_checksum_is_refused(local_server, tmp_path, monkeypatch):
    served, base = local_server
    (served / "input.txt").write_text("tampered\n")
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(corpora.REGISTRY, "remote", Corpus("remote", "text", "t", url=f"{base}/input.txt", sha256="0" * 64))
    with pytest.raises(SeqgenError, match="sha256"):
        load_corpus("remote")
    assert not (tmp_path / "cache" / "remote.txt").exists()


def test_offline_download_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(corpora.REGISTRY, "remote", Corpus("remote", "text", "t", url="http://127.0.0.1:9/input.txt", sha256="0" * 64))
    with pytest.raises(SeqgenError, match="could not download.*--corpus FILE"):
        load_corpus("remote")
