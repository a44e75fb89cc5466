"""Hardening of text reading: NUL bytes anywhere mean binary, and UTF-16 / UTF-32 files are named as such."""

import pytest

from seqgen.data.corpora import load_corpus, read_text_file
from seqgen.errors import SeqgenError

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


# -- the download cache ----------------------------------------------------------------------

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
    threading.Thread(target=server.serve_forever, daemon=True).start()
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
