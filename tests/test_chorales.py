"""The built-in `chorales` corpus (the four-voice pieces of music21's chorale iterator) and the voice-leading
statistics: range per part, parallel fifths and octaves."""

import pytest

from seqgen.music import corpus as music_corpus
from seqgen.music.corpus import chorale_files, four_voices, load_pieces
from seqgen.music.events import MusicTokenizer
from seqgen.music.stats import parallels, part_ranges, piece_stats


def piece(*voices, grid=1):
    """Parts given as lists of quarter-note pitches (None: a rest), part 0 first."""
    notes = [[i // 4, i % 4, part, pitch, 1] for part, line in enumerate(voices) for i, pitch in enumerate(line)
             if pitch is not None]
    return {"name": "p", "notes": sorted(notes), "time_signatures": [[0, 4, 4]], "key_sharps": 0, "tempo": None}


def test_parallel_fifths_and_octaves_are_counted_and_other_motion_is_not():
    assert parallels(piece([67, 69], [60, 62]), 1) == (1, 0)  # G/C → A/D: a parallel fifth
    assert parallels(piece([72, 74], [60, 62]), 1) == (0, 1)  # octaves moving up together
    assert parallels(piece([74, 79], [67, 60]), 1) == (0, 0)  # a fifth to a twelfth by contrary motion: not parallel
    assert parallels(piece([67, 67], [60, 60]), 1) == (0, 0)  # a held fifth is no motion
    assert parallels(piece([67, 69], [60, 61]), 1) == (0, 0)  # fifth to diminished fifth
    assert parallels(piece([67, None, 69], [60, 62, 62]), 1) == (0, 0)  # a rest breaks the line
    # per 100 beats: one parallel fifth in a piece of 4 quarter notes
    stats = piece_stats(piece([67, 69, 71, 72], [60, 62, 65, 64]), 1)
    assert stats["parallel_fifths_per_100_beats"] == pytest.approx(25.0)


def test_range_per_part_is_the_mean_over_pieces():
    ranges = part_ranges([piece([72, 76], [60, 64]), piece([70, 80], [50, 52])])
    assert ranges[0] == {"part": 0, "pieces": 2, "lowest": 71.0, "highest": 78.0}
    assert ranges[1]["lowest"] == 55.0 and ranges[1]["highest"] == 58.0


def test_only_four_ordered_voices_are_kept():
    satb = piece([72], [67], [60], [48])
    kept, dropped = four_voices([satb, piece([72], [67], [60], [48], [36]), piece([48], [67], [60], [72])])
    assert kept == [satb]
    assert [why for _, why in dropped] == ["not four voices (5 parts)", "parts not ordered soprano, alto, tenor, bass"]


@pytest.mark.slow
def test_the_chorale_iterator_gives_each_file_once():
    files = chorale_files()
    assert len(files) == len(set(files)) == 350  # 371 numbers, several of which share a file
    assert all(path.is_file() and path.parent.name == "bach" for path in files)


@pytest.mark.slow
def test_chorales_keeps_four_voice_pieces_and_reports_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGEN_CACHE", str(tmp_path / "cache"))
    chosen = [p for p in chorale_files() if p.name in ("bwv269.mxl", "bwv347.mxl", "bwv8.6.mxl")]
    monkeypatch.setattr(music_corpus, "chorale_files", lambda: chosen)
    name, pieces, skipped = load_pieces("chorales", MusicTokenizer(), progress=False)
    assert name == "chorales" and len(pieces) == 2
    assert skipped == [("bwv8.6.mxl", "not four voices (5 parts)")]
    for ranges in (part_ranges([p]) for p in pieces):
        assert [r["part"] for r in ranges] == [0, 1, 2, 3]
        assert ranges[0]["highest"] > ranges[1]["highest"] > ranges[3]["highest"]  # soprano over alto over bass
