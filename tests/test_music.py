import json
import os
import pickle
import time
import zipfile

import mido
import pytest
from click.testing import CliRunner
from music21 import chord, converter, environment, key, meter, note, stream

from seqgen.cli import cli
from seqgen.errors import SeqgenError
from seqgen.music import corpus as music_corpus
from seqgen.music.corpus import load_pieces
from seqgen.music.events import MusicTokenizer, semitones_to_c, transpose_sharps
from seqgen.music.scores import MUSIC_SUFFIXES, parse_file, piece_to_score, score_to_piece
from seqgen.music.stats import compare, in_key_share


def small_score(shift: int = 0):
    """Two parts in 3/4 with a chord, a rest, a dotted note and a tie across the bar."""
    upper, lower = stream.Part(), stream.Part()
    upper.append([meter.TimeSignature("3/4"), key.KeySignature(1)])
    for pitch, length in [("G4", 1), ("A4", 0.5), ("B4", 0.5), ("C5", 1), ("D5", 1.5), (None, 0.5), ("B4", 1)]:
        upper.append(note.Rest(quarterLength=length) if pitch is None else note.Note(pitch, quarterLength=length))
    lower.append([meter.TimeSignature("3/4"), key.KeySignature(1)])
    lower.append(chord.Chord(["G2", "D3"], quarterLength=3))
    lower.append(note.Note("C3", quarterLength=2))
    lower.append(note.Note("D3", quarterLength=1))
    score = stream.Score([upper, lower])
    return score.transpose(shift) if shift else score


def note_set(piece, grid=4):
    from seqgen.music.events import note_times

    return sorted(note_times(piece, grid))


def write_midi(score, path):
    score.write("midi", fp=str(path))
    return path


def test_encode_decode_round_trip_keeps_every_note():
    tokenizer = MusicTokenizer(grid=4)
    piece, reason = score_to_piece(small_score(), "s", 4, 12)
    assert reason is None and piece["time_signatures"] == [[0, 3, 4]] and piece["key_sharps"] == 1
    assert {n[2] for n in piece["notes"]} == {0, 1}  # both parts kept
    expected = [(0.0, 3.0, 1, 43), (0.0, 3.0, 1, 50), (0.0, 1.0, 0, 67), (1.0, 0.5, 0, 69), (1.5, 0.5, 0, 71),
                (2.0, 1.0, 0, 72), (3.0, 1.5, 0, 74), (3.0, 2.0, 1, 48), (5.0, 1.0, 0, 71), (5.0, 1.0, 1, 50)]
    assert note_set(piece) == sorted(expected)
    decoded = tokenizer.decode_piece(tokenizer.encode_piece(piece))
    assert note_set(decoded) == note_set(piece)
    # and through a real music21 score again
    again, _ = score_to_piece(piece_to_score(decoded, 4), "again", 4, 12)
    assert note_set(again) == note_set(piece)


def test_any_token_sequence_decodes_to_a_writable_score(tmp_path):
    import random

    tokenizer = MusicTokenizer()
    rng = random.Random(0)
    ids = [rng.randrange(tokenizer.vocab_size) for _ in range(600)]
    piece = tokenizer.decode_piece(ids)
    path = tmp_path / "random.mid"
    assert piece["notes"]  # random tokens still hold notes: the decoder keeps every event that makes sense
    piece_to_score(piece, 4).write("midi", fp=str(path))
    assert mido.MidiFile(str(path)).length > 0
    assert converter.parse(str(path)).flatten().notes


def test_key_signature_arithmetic():
    assert transpose_sharps(0, 7) == 1  # C → G: one sharp
    assert transpose_sharps(-1, 2) == 1  # F → G
    assert all(transpose_sharps(s, semitones_to_c(s)) == 0 for s in range(-6, 7))


def test_statistics_of_a_scale_and_of_identical_sets():
    scale = {"notes": [[0, i, 0, p, 4] for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])], "key_sharps": 0,
             "time_signatures": [[0, 4, 4]]}
    assert in_key_share(scale) == 1.0
    assert compare([scale], [scale], 4)["pitch_class_distance"] == 0.0
    outside = {**scale, "notes": [[0, 0, 0, 61, 4], [0, 4, 0, 63, 4]]}
    assert in_key_share(outside) == 0.0


@pytest.fixture
def music_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "midi"
    folder.mkdir()
    for shift in range(4):
        write_midi(small_score(shift), folder / f"good{shift}.mid")
    (folder / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage that is not midi")
    (folder / "empty.mid").write_bytes(b"")
    drums = mido.MidiFile()
    track = mido.MidiTrack()
    for _ in range(8):
        track.append(mido.Message("note_on", channel=9, note=36, velocity=100, time=0))
        track.append(mido.Message("note_off", channel=9, note=36, velocity=0, time=240))
    drums.tracks.append(track)
    drums.save(str(folder / "drums.mid"))
    return folder


def test_bad_files_are_skipped_and_reported(music_folder):
    name, pieces, skipped = load_pieces(str(music_folder), MusicTokenizer(), progress=False)
    assert len(pieces) == 4
    reasons = dict(skipped)
    assert set(reasons) == {"corrupt.mid", "empty.mid", "drums.mid"}
    assert reasons["drums.mid"] == "drums only"
    assert "parsed" in reasons["corrupt.mid"] and "parsed" in reasons["empty.mid"]


def test_the_parse_cache_is_reused(music_folder, monkeypatch):
    first = load_pieces(str(music_folder), MusicTokenizer(), progress=False)

    def no_parsing(*args):
        raise AssertionError("parsed again instead of using the cache")

    monkeypatch.setattr(music_corpus, "parse_file", no_parsing)
    assert load_pieces(str(music_folder), MusicTokenizer(), progress=False) == first
    with pytest.raises(AssertionError):  # other settings are another cache entry
        load_pieces(str(music_folder), MusicTokenizer(grid=12), progress=False)


def test_only_bad_files_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "bad.mid").write_bytes(b"not midi at all")
    with pytest.raises(SeqgenError, match="no usable music"):
        load_pieces(str(tmp_path), MusicTokenizer(), progress=False)


@pytest.mark.slow
def test_train_and_sample_music_writes_midi_that_two_readers_open(music_folder, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["train", "--corpus", str(music_folder), "--max-steps", "120", "--batch-size", "2",
                                 "--bptt", "16", "--hidden-size", "32", "--embedding-dim", "16", "--eval-interval", "60",
                                 "--output-dir", str(tmp_path / "runs"), "--name", "m", "--sample-length", "200",
                                 "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Skipped 3 file(s)" in result.output
    # the sample printed after training is written beside the checkpoints, with its piano roll
    sample = tmp_path / "runs" / "m" / "sample.mid"
    assert converter.parse(str(sample)).flatten().notes and sample.with_suffix(".png").exists()
    run = json.loads((tmp_path / "runs" / "m" / "run.json").read_text())
    assert any("val_loss_per_quarter" in h for h in run["history"])
    primer = music_folder / "good0.mid"
    out = tmp_path / "out" / "piece.mid"
    result = runner.invoke(cli, ["sample", str(tmp_path / "runs" / "m"), "--prime-midi", str(primer), "--bars", "2",
                                 "--num-samples", "2", "--output", str(out), "--seed", "1", "--plot"])
    assert result.exit_code == 0, result.output
    written = [tmp_path / "out" / "piece-1.mid", tmp_path / "out" / "piece-2.mid"]
    for path in written:
        assert mido.MidiFile(str(path)).length > 0
        assert converter.parse(str(path)).flatten().notes
        assert path.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    # the written piece starts with the primer's notes: it continues the primer
    primer_notes = note_set(parse_file(str(primer), 4, 12)[0][0])
    continued = note_set(parse_file(str(written[0]), 4, 12)[0][0])
    assert set(primer_notes) <= set(continued)
    result = runner.invoke(cli, ["evaluate", str(tmp_path / "runs" / "m"), "--split", "val", "--json", "--num-generated", "2"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["loss_per_quarter"] > 0
    assert 0 <= figures["generated_vs_corpus"]["pitch_class_distance"] <= 1
    bad = runner.invoke(cli, ["sample", str(tmp_path / "runs" / "m"), "--output", str(out), "--format", "abc"])
    assert bad.exit_code != 0 and "cannot write 'abc'" in bad.output


def four_four_tune(path, shift=0):
    """Two bars of 4/4 quarter notes, written with mido."""
    song = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    for pitch in (60, 62, 64, 65, 67, 69, 71, 72):
        track.append(mido.Message("note_on", note=pitch + shift, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch + shift, velocity=0, time=480))
    song.tracks.append(track)
    song.save(str(path))
    return path


@pytest.fixture(scope="module")
def event_run(tmp_path_factory):
    import torch

    folder = tmp_path_factory.mktemp("events")
    for shift in range(3):
        four_four_tune(folder / f"tune{shift}.mid", shift)
    result = CliRunner().invoke(cli, ["train", "--corpus", str(folder), "--max-steps", "4", "--batch-size", "2",
                                      "--bptt", "8", "--hidden-size", "16", "--embedding-dim", "8", "--eval-interval", "4",
                                      "--output-dir", str(folder / "runs"), "--name", "m", "--sample-length", "0",
                                      "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    best = folder / "runs" / "m" / "best.pt"
    # the same model, but one that ends every piece at once (`end` far above every other token), and one that
    # never starts a bar
    for name, token, shift in (("ends.pt", "end", 40.0), ("no-bars.pt", "bar", -40.0)):
        payload = torch.load(best, weights_only=True)
        payload["model_state"]["decoder.bias"][MusicTokenizer().index[token]] += shift
        torch.save(payload, folder / name)
    return best, folder / "ends.pt", folder / "tune0.mid"


@pytest.mark.slow
def test_bars_gives_exactly_that_many_new_bars_even_where_the_model_would_end_the_piece(event_run, tmp_path):
    import seqgen
    from seqgen.music.events import bar_starts

    _, ends, primer = event_run
    model = seqgen.load(ends, device="cpu")
    pieces = model.generate(prime_midi=str(primer), bars=3, num_samples=3, seed=1, length=20_000)
    assert [piece["bars"] for piece in pieces] == [2 + 3] * 3  # the primer's two bars, then three new ones
    written = model.write(prime_midi=str(primer), bars=3, num_samples=3, seed=1, length=20_000,
                          output=str(tmp_path / "s.mid"))
    for piece, path in zip(pieces, written):
        quarters = bar_starts(piece, 5)[-1]  # the five bars, whatever time signatures the model drew
        assert mido.MidiFile(str(path)).length == pytest.approx(quarters * 0.5)  # 120 quarter notes a minute
    # without --bars the same model ends each piece at once, after the primer
    assert all(piece["bars"] == 2 for piece in model.generate(prime_midi=str(primer), num_samples=3, seed=1))


def test_bars_that_the_length_cannot_hold_are_one_line(event_run, tmp_path):
    import seqgen

    model = seqgen.load(event_run[0].parents[2] / "no-bars.pt", device="cpu")
    with pytest.raises(SeqgenError, match=r"sample 1 drew only 0 of its 2 bars in 600 tokens; give a larger --length"):
        model.generate(bars=2, num_samples=2, seed=1, length=10)


def test_a_sample_without_notes_is_one_line_and_writes_nothing(event_run, tmp_path):
    from conftest import one_line_error, run

    _, ends, _ = event_run
    from seqgen.music.audio import synthesizer

    try:
        synthesizer()
        names = ("s.mid", "s.musicxml", "s.wav")
    except SeqgenError:  # no FluidSynth here: WAV output is one line saying what to install
        names = ("s.mid", "s.musicxml")
    for fmt in names:
        line = one_line_error(run("sample", ends, "--seed", 1, "--output", tmp_path / fmt))
        assert "the sample has no notes" in line and fmt in line and "--seed" in line
    line = one_line_error(run("sample", ends, "--seed", 1, "--num-samples", 2, "--output", tmp_path / "s.mid"))
    assert "2 of 2 samples have no notes" in line and "s-1.mid" in line and "s-2.mid" in line
    assert list(tmp_path.iterdir()) == []


def test_of_several_samples_those_with_notes_are_written_and_the_others_named(event_run, tmp_path, monkeypatch):
    import seqgen
    from seqgen.tasks.language_model import LanguageModel

    best, _, primer = event_run
    model = seqgen.load(best, device="cpu")
    with_notes = parse_file(str(primer), 4, 12)[0][0]
    silent = {**with_notes, "notes": []}
    monkeypatch.setattr(LanguageModel, "_pieces", lambda self, config: [with_notes, silent, with_notes])
    with pytest.raises(SeqgenError, match=r"1 of 3 samples have no notes \(the model drew none\), so \S+s-2.mid was not written \(the other 2 were\)"):
        model.write(output=str(tmp_path / "s.mid"), num_samples=3, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s-1.mid", "s-3.mid"]


def test_the_sample_after_training_is_cut_to_what_a_music_sample_holds_and_says_so(event_run, tmp_path, monkeypatch,
                                                                                   capsys):
    from types import SimpleNamespace

    from seqgen.tasks.language_model import generate
    from seqgen.tasks.language_model.present import show_sample

    monkeypatch.setattr(generate, "MAX_MUSIC_LENGTH", 60)
    sample = generate.training_sample(event_run[0], 10_000_000)
    assert sample.tokens == 60 and sample.cut
    show_sample(SimpleNamespace(best_path=event_run[0], sample=sample))
    assert "Sample (temperature 0.8, 60 tokens)" in capsys.readouterr().err


# Reading music: no pickle from music21's scratch folder is ever loaded, and seqgen's
# own JSON cache survives damaged entries and unwritable folders.


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


@pytest.mark.slow
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
