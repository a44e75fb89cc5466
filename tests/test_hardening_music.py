"""Hardening of music reading: no pickle from music21's scratch folder is ever loaded, and seqgen's
own JSON cache survives damaged entries and unwritable folders."""

import json
import os
import pickle
import time
import zipfile

import pytest
from music21 import converter, environment, meter, note, stream

from seqgen.music import corpus as music_corpus
from seqgen.music.corpus import load_pieces
from seqgen.music.events import MusicTokenizer
from seqgen.music.scores import MUSIC_SUFFIXES, parse_file

ABC = "X:1\nT:tune\nM:4/4\nL:1/4\nK:C\nC D E F|G A B c|\n"
KERN = "**kern\n*M4/4\n=1\n4c\n4d\n4e\n4f\n=2\n4g\n4a\n4b\n4cc\n==\n*-\n"


class Planted:
    """A pickle that creates a marker file when loaded, as a planted one would run an attacker's code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _score():
    part = stream.Part([meter.TimeSignature("4/4")] + [note.Note(p, quarterLength=1) for p in "CDEFGABC"])
    return stream.Score([part])


def write_source(folder, suffix):
    path = folder / f"tune{suffix}"
    if suffix in (".mid", ".midi"):
        _score().write("midi", fp=str(path))
    elif suffix in (".musicxml", ".xml"):
        _score().write("musicxml", fp=str(path))
    elif suffix == ".mxl":
        xml = folder / "inner.musicxml"
        _score().write("musicxml", fp=str(xml))
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("META-INF/container.xml",
                             '<?xml version="1.0"?><container><rootfiles>'
                             '<rootfile full-path="inner.musicxml"/></rootfiles></container>')
            archive.write(xml, "inner.musicxml")
        xml.unlink()
    elif suffix == ".abc":
        path.write_text(ABC)
    elif suffix == ".krn":
        path.write_text(KERN)
    return path


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """music21's scratch folder (where its parse cache lives), moved into the test's own folder."""
    folder = tmp_path / "m21-scratch"
    folder.mkdir()
    monkeypatch.setattr(environment.Environment, "getRootTempDir", lambda self: folder)
    return folder


def plant(path, scratch, marker):
    """A malicious pickle at exactly the name music21 would load for `path`, newer than the file."""
    target = converter.PickleFilter(str(path)).getPickleFp(scratch, zipType="gz")
    import zlib

    target.write_bytes(zlib.compress(pickle.dumps(Planted(marker))))
    later = time.time() + 100
    os.utime(target, (later, later))
    return target


def test_the_planted_pickle_is_one_music21_would_load_by_default(tmp_path, scratch):
    # Guards the test below: with music21's defaults the planted pickle runs (so its name is right).
    source = write_source(tmp_path, ".mid")
    marker = tmp_path / "ran"
    plant(source, scratch, marker)
    try:
        converter.parse(str(source))
    except Exception:
        pass  # the planted object is no stream; what matters is that it already ran
    assert marker.exists()


@pytest.mark.parametrize("suffix", MUSIC_SUFFIXES)
def test_parse_file_never_loads_or_writes_music21_pickles(tmp_path, scratch, suffix):
    source = write_source(tmp_path, suffix)
    marker = tmp_path / "ran"
    planted = plant(source, scratch, marker)
    pieces, reason = parse_file(str(source), 4, 12)
    assert not marker.exists()
    assert reason is None and len(pieces) == 1 and len(pieces[0]["notes"]) == 8
    # and nothing was written to music21's cache either
    planted.unlink()
    parse_file(str(source), 4, 12)
    assert list(scratch.iterdir()) == []


def test_parse_file_reads_only_music_suffixes(tmp_path, scratch):
    # music21 would guess a format for anything (text, a folder of musedata); a primer must be music.
    text = tmp_path / "notes.txt"
    text.write_text("C D E F\n")
    pieces, reason = parse_file(str(text), 4, 12)
    assert pieces == [] and reason.startswith("not a music file")


# -- seqgen's own music cache (JSON) -------------------------------------------------------------

@pytest.fixture
def one_tune(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "music"
    folder.mkdir()
    write_source(folder, ".mid")
    return folder


def cache_entries(tmp_path):
    return sorted((tmp_path / "cache" / "music").iterdir())


GOOD_NOTE = [0, 0, 0, 60, 4]
DAMAGED = {
    "bad JSON": b"{\"pieces\": [",
    "not UTF-8": b"\xff\xfe\x00{",
    "deeply nested": b"[" * 100_000,
    "a list, not a mapping": b"[]",
    "pieces not a list": json.dumps({"pieces": 3, "skipped": None}).encode(),
    "no reason for no pieces": json.dumps({"pieces": [], "skipped": None}).encode(),
    "note of four ints": json.dumps({"pieces": [{"name": "x", "notes": [[0, 0, 0, 60]]}], "skipped": None}).encode(),
    "note with a string": json.dumps({"pieces": [{"name": "x", "notes": [[0, 0, 0, "C4", 4]]}], "skipped": None}).encode(),
    "note with a float": json.dumps({"pieces": [{"name": "x", "notes": [[0, 0.5, 0, 60, 4]]}], "skipped": None}).encode(),
    "pitch beyond MIDI": json.dumps({"pieces": [{"name": "x", "notes": [[0, 0, 0, 300, 4]]}], "skipped": None}).encode(),
    "position beyond the bar": json.dumps({"pieces": [{"name": "x", "notes": [[0, 999, 0, 60, 4]]}], "skipped": None}).encode(),
    "huge bar number": json.dumps({"pieces": [{"name": "x", "notes": [[10**12, 0, 0, 60, 4]]}], "skipped": None}).encode(),
    "zero denominator": json.dumps({"pieces": [{"name": "x", "notes": [GOOD_NOTE], "time_signatures": [[0, 3, 0]]}],
                                    "skipped": None}).encode(),
    "tempo as text": json.dumps({"pieces": [{"name": "x", "notes": [GOOD_NOTE], "tempo": "fast"}], "skipped": None}).encode(),
    "NaN tempo": b'{"pieces": [{"name": "x", "notes": [[0, 0, 0, 60, 4]], "tempo": NaN}], "skipped": null}',
    "key as text": json.dumps({"pieces": [{"name": "x", "notes": [GOOD_NOTE], "key_sharps": "G"}], "skipped": None}).encode(),
    "piece not a mapping": json.dumps({"pieces": [[GOOD_NOTE]], "skipped": None}).encode(),
}


@pytest.mark.parametrize("damage", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_cache_entry_is_discarded_with_a_warning_and_parsed_again(one_tune, tmp_path, capsys, damage):
    tokenizer = MusicTokenizer()
    first = load_pieces(str(one_tune), tokenizer, progress=False)
    [entry] = cache_entries(tmp_path)
    sound = entry.read_bytes()
    entry.write_bytes(damage)
    capsys.readouterr()
    again = load_pieces(str(one_tune), tokenizer, progress=False)
    err = capsys.readouterr().err
    assert again == first
    assert len(err.strip().splitlines()) == 1 and err.startswith("warning: discarded 1 damaged music cache entry")
    assert "Traceback" not in err
    assert json.loads(entry.read_bytes()) == json.loads(sound)  # rewritten, as JSON
    assert cache_entries(tmp_path) == [entry]
    # the pieces encode (what training does next)
    assert all(tokenizer.encode_piece(piece) for piece in again[1])


def test_a_sound_cache_entry_is_used_without_a_word(one_tune, tmp_path, capsys, monkeypatch):
    first = load_pieces(str(one_tune), MusicTokenizer(), progress=False)
    capsys.readouterr()
    monkeypatch.setattr(music_corpus, "parse_file", lambda *args: pytest.fail("parsed again"))
    assert load_pieces(str(one_tune), MusicTokenizer(), progress=False) == first
    assert capsys.readouterr().err == ""


def test_an_unwritable_cache_is_a_warning_not_a_crash(one_tune, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("SEQGEN_CACHE", str(blocker))
    name, pieces, skipped = load_pieces(str(one_tune), MusicTokenizer(), progress=False)
    err = capsys.readouterr().err
    assert len(pieces) == 1 and len(err.strip().splitlines()) == 1
    assert err.startswith("warning: could not write the music cache") and "SEQGEN_CACHE" in err


def test_a_full_disk_while_caching_is_a_warning_and_leaves_no_temporary(one_tune, tmp_path, monkeypatch, capsys):
    import errno
    import pathlib

    def full(self, *args, **kwargs):
        with open(self, "w") as handle:  # the temporary is created, then the disk fills
            handle.write("{")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    name, pieces, skipped = load_pieces(str(one_tune), MusicTokenizer(), progress=False)
    err = capsys.readouterr().err
    assert len(pieces) == 1 and len(err.strip().splitlines()) == 1 and "No space left on device" in err
    assert cache_entries(tmp_path) == []  # neither a half-written entry nor a temporary


# -- writing and decoding ----------------------------------------------------------------------

PIECE = {"name": "p", "notes": [[0, 0, 0, 0, 4], [0, 4, 0, 127, 4], [1, 0, 1, 60, 8]],
         "time_signatures": [[0, 3, 4], [5, 2, 4]], "key_sharps": None, "tempo": None}


def test_write_piece_into_an_unwritable_place_is_one_line(tmp_path):
    from seqgen.errors import SeqgenError
    from seqgen.music.scores import write_piece

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(SeqgenError, match="cannot write .*writable --output") as caught:
        write_piece(PIECE, blocker / "out.mid", "midi", 4)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("fmt, suffix", [("midi", ".mid"), ("musicxml", ".musicxml")])
def test_write_piece_writes_the_whole_file_and_no_temporary(tmp_path, fmt, suffix):
    from seqgen.music.scores import parse_score, write_piece

    path = write_piece(PIECE, tmp_path / f"out{suffix}", fmt, 4)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    score = parse_score(path)
    # every pitch survives, the lowest (MIDI 0) too: music21 reads a bare 0 as C4
    assert sorted({int(p.midi) for n in score.recurse().notes for p in n.pitches}) == [0, 60, 127]
    # a time signature change after the last note is not put at the start
    assert [(ts.ratioString, float(ts.getOffsetInHierarchy(score))) for ts in score.parts[0].recurse().getElementsByClass(meter.TimeSignature)] == [("3/4", 0.0)]


def test_readable_decode_of_out_of_range_ids_does_not_raise():
    tokenizer = MusicTokenizer()
    assert tokenizer.decode([0, -1, tokenizer.vocab_size, 10**15]) == "piece ? ? ? "


def test_a_missing_music_corpus_says_so(tmp_path):
    from seqgen.errors import SeqgenError
    from seqgen.music.corpus import music_files

    with pytest.raises(SeqgenError, match="no such file or folder"):
        music_files(str(tmp_path / "nowhere"))


# -- what one file may hold ----------------------------------------------------------------------

def midi_file(path, events, ticks_per_beat=480):
    """A one-track MIDI file of mido messages."""
    import mido

    song = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    song.tracks.append(mido.MidiTrack(events))
    song.save(str(path))
    return path


def held(pitch, beats, ticks_per_beat=480):
    import mido

    return [mido.Message("note_on", note=pitch, velocity=80, time=0),
            mido.Message("note_off", note=pitch, velocity=0, time=int(beats * ticks_per_beat))]


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_37_byte_file_of_one_20000_beat_note_is_refused_at_once(tmp_path):
    path = midi_file(tmp_path / "long.mid", held(60, 20_000, 1), ticks_per_beat=1)
    assert path.stat().st_size < 40
    (pieces, reason), seconds = timed(lambda: parse_file(str(path), 4, 12))
    assert pieces == [] and "lasts 20,000 quarter notes, more than the 10,000" in reason
    assert seconds < 5  # it took four minutes
    abc = tmp_path / "long.abc"
    abc.write_text("X:1\nT:t\nM:4/4\nL:1/4\nK:C\nC20000|\n")
    assert "lasts 20,000 quarter notes" in parse_file(str(abc), 4, 12)[1]


def test_a_note_held_over_thousands_of_bars_is_one_note_read_in_seconds(tmp_path):
    path = midi_file(tmp_path / "held.mid", held(60, 8_000))
    (pieces, reason), seconds = timed(lambda: parse_file(str(path), 4, 12))
    assert reason is None and pieces[0]["notes"] == [[0, 0, 0, 60, 8_000 * 4]]  # the ties music21 makes, joined
    assert seconds < 15  # joining its 2,000 tied parts took music21's stripTies over a minute


def test_thousands_of_tempo_changes_text_events_and_a_late_end_change_nothing_and_cost_nothing(tmp_path):
    import mido

    noise = []
    for index in range(5_000):  # in the first beat, as a damaged or hostile file has them
        noise += [mido.MetaMessage("set_tempo", tempo=400_000 + index, time=0), mido.MetaMessage("text", text="x", time=0)]
    plain = midi_file(tmp_path / "plain.mid", [mido.MetaMessage("set_tempo", tempo=400_000, time=0), *held(60, 1), *held(64, 2)])
    busy = midi_file(tmp_path / "busy.mid", [*noise, *held(60, 1), *held(64, 2),
                                             mido.MetaMessage("end_of_track", time=480 * 1_000_000)])
    (pieces, reason), seconds = timed(lambda: parse_file(str(busy), 4, 12))
    assert reason is None and seconds < 10  # 2,000 tempo changes alone took music21 14 s; 5,000, minutes
    expected = parse_file(str(plain), 4, 12)[0]
    assert [{**p, "name": ""} for p in pieces] == [{**p, "name": ""} for p in expected]
    assert pieces[0]["tempo"] == pytest.approx(150.0)  # the first tempo is the piece's


def test_files_beyond_the_limits_are_refused_in_one_line_and_skipped_in_a_corpus(tmp_path, monkeypatch):
    import mido

    from seqgen.music import scores

    late_signature = midi_file(tmp_path / "late.mid", [*held(60, 1), mido.MetaMessage(
        "time_signature", numerator=3, denominator=4, time=480 * 20_000)])
    assert "lasts 20,001 quarter notes" in parse_file(str(late_signature), 4, 12)[1]
    monkeypatch.setattr(scores, "MAX_NOTES", 10)
    many = midi_file(tmp_path / "many.mid", [m for pitch in range(40, 52) for m in held(pitch, 0.5)])
    assert parse_file(str(many), 4, 12)[1] == "holds 12 notes, more than the 10 seqgen reads from one file; split the piece"
    monkeypatch.setattr(scores, "MAX_SIGNATURE_CHANGES", 3)
    changes = [mido.MetaMessage("time_signature", numerator=2 + i % 2, denominator=4, time=480) for i in range(5)]
    assert "changes time or key signature 5 times" in parse_file(str(midi_file(tmp_path / "ts.mid", [*held(60, 1), *changes])),
                                                                   4, 12)[1]
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "corpus"
    folder.mkdir()
    midi_file(folder / "long.mid", held(60, 20_000, 1), ticks_per_beat=1)
    write_source(folder, ".mid")
    _, pieces, skipped = music_corpus.load_pieces(str(folder), MusicTokenizer(), progress=False)
    assert len(pieces) == 1 and dict(skipped)["long.mid"].startswith("lasts 20,000 quarter notes")
