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
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
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


# Reading text: NUL bytes anywhere mean binary, and UTF-16 / UTF-32 files are named as such.


TEXT = "Lady Susan wrote to her friend.\nShe said: ☃ über naïve café.\n" * 40


def one_line_error(path, encoding="utf-8") -> str:
    with pytest.raises(SeqgenError) as caught:
        read_text_file(path, encoding)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_nul_byte_anywhere_marks_the_file_binary(tmp_path):
    path = tmp_path / "corpus.txt"
    body = TEXT.encode() * 20  # well past the first 8 KB
    path.write_bytes(body + b"\x00" + b"more text\n")
    message = one_line_error(path)
    assert "binary" in message and f"offset {len(body)}" in message
    with pytest.raises(SeqgenError, match="binary"):  # through a folder of .txt files too
        load_corpus(str(tmp_path))


@pytest.mark.parametrize("codec, suggested", [
    ("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"),
    ("utf-32", "utf-32"), ("utf-32-le", "utf-32-le"), ("utf-32-be", "utf-32-be"),
])
def test_utf16_and_utf32_files_are_named_with_the_encoding_to_pass(tmp_path, codec, suggested):
    path = tmp_path / "corpus.txt"
    path.write_bytes(TEXT.encode(codec))  # "utf-16" / "utf-32" write a byte-order mark, the others none
    message = one_line_error(path)
    family = suggested[:6].upper()
    assert message == f"{path} looks like {family} text; pass --encoding {suggested} (or convert it to UTF-8)"
    assert "binary" not in message
    # and the advice works
    assert read_text_file(path, suggested) == TEXT


def test_a_utf16_file_read_with_the_wrong_byte_order_is_refused(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(TEXT.encode("utf-16-be"))
    assert "pass --encoding utf-16-be" in one_line_error(path, "utf-16-le")


def test_nul_characters_in_utf16_text_are_binary_too(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes((TEXT * 10 + "\x00tail").encode("utf-16"))
    assert "NUL" in one_line_error(path, "utf-16")


def test_binary_data_after_a_utf16_byte_order_mark_is_not_called_utf16(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"\xff\xfe" + bytes(range(256)) * 8)
    assert "binary" in one_line_error(path)


def test_a_file_of_only_a_byte_order_mark_is_empty(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes("\ufeff\n".encode("utf-8"))
    assert "empty" in one_line_error(path)


@pytest.mark.parametrize("encoding", ["rot13", "hex", "no-such-codec"])
def test_codecs_that_decode_no_text_are_one_line(tmp_path, encoding):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    assert "encoding" in one_line_error(path, encoding)


def test_plain_utf8_and_latin1_still_read(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes(("\ufeff" + TEXT).encode())
    assert read_text_file(path) == TEXT
    path.write_bytes(TEXT.replace("☃", "").encode("latin-1"))
    assert read_text_file(path, "latin-1") == TEXT.replace("☃", "")


@pytest.fixture
def served_corpus(tmp_path, monkeypatch):
    import functools
    import hashlib
    import http.server
    import threading

    from seqgen.data import corpora

    served = tmp_path / "served"
    served.mkdir()
    data = "To be, or not to be.\n".encode()
    (served / "input.txt").write_bytes(data)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/input.txt"
    monkeypatch.setitem(corpora.REGISTRY, "remote",
                        corpora.Corpus("remote", "text", "t", url=url, sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    yield served
    server.shutdown()


def test_an_edited_cached_download_is_replaced_not_trusted(served_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    assert load_corpus("remote")[1] == "To be, or not to be.\n"
    (tmp_path / "cache" / "remote.txt").write_text("To be, or not to be, that is the edit.\n")
    capsys.readouterr()
    assert load_corpus("remote")[1] == "To be, or not to be.\n"
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "does not match its sha256" in err
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["remote.txt"]


def test_a_download_that_cannot_be_saved_is_one_line(served_corpus, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SEQGEN_CACHE", str(blocker))
    with pytest.raises(SeqgenError, match="could not save the download of 'remote'.*SEQGEN_CACHE") as caught:
        load_corpus("remote")
    assert "\n" not in str(caught.value)


def test_a_download_far_larger_than_the_corpus_is_refused(served_corpus, tmp_path, monkeypatch):
    (served_corpus / "input.txt").write_bytes(b"x" * 10_000)
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SeqgenError, match="larger than the corpus"):
        load_corpus("remote")
    assert not (tmp_path / "cache" / "remote.txt").exists()


def test_a_device_or_pipe_is_refused_not_read_for_ever(tmp_path):
    import os
    import threading
    import time

    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)

    def feed():  # so that a reader that does open the pipe gets text and returns, instead of hanging the suite
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                handle = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet (or never: the pipe was refused)
                time.sleep(0.01)
                continue
            os.write(handle, b"text from a pipe\n")
            os.close(handle)
            return

    threading.Thread(target=feed, daemon=True).start()
    assert "not a regular file" in one_line_error(fifo)
    assert "not a regular file" in one_line_error(tmp_path)
