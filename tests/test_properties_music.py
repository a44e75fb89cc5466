"""Property-based test (hypothesis) of the music event decoder: any token sequence, in range or not,
decodes without an exception, and every decoded piece is written to a MIDI file music21 reads back."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqgen.music.events import MusicTokenizer
from seqgen.music.scores import parse_score, write_piece

TOKENIZER = MusicTokenizer()
# Mostly real token ids (so notes form), some far out of range either way.
IDS = st.lists(st.integers(0, TOKENIZER.vocab_size - 1) | st.integers(-10**12, 10**12), max_size=120)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, database=None)
@given(IDS)
def test_any_token_sequence_decodes(ids):
    pieces = TOKENIZER.decode_pieces(ids)
    for piece in pieces:
        assert piece["notes"]
        for bar, pos, _part, pitch, dur in piece["notes"]:
            assert bar >= 0 and 0 <= pos < TOKENIZER.max_bar * TOKENIZER.grid and 0 <= pitch <= 127 and dur >= 1
        # and a decoded piece encodes again, to the same notes
        assert sorted(TOKENIZER.decode_piece(TOKENIZER.encode_piece(piece))["notes"]) == sorted(piece["notes"])


# Token names in grammatical-ish order, so most examples hold notes, with stray tokens between.
EVENT = st.one_of(
    st.just(["bar"]),
    st.builds(lambda n: [f"ts_{n}"], st.sampled_from(["1/2", "3/4", "7/8", "12/8", "5/4", "1/8"])),
    st.builds(lambda k: [f"key_{k}"], st.integers(-7, 7)),
    st.builds(lambda t: [f"tempo_{t}"], st.sampled_from([40, 96, 208])),
    st.builds(lambda p, v, n, d: [f"pos_{p}", f"part_{v}", f"pitch_{n}", f"dur_{d}"],
              st.integers(0, TOKENIZER.max_bar * TOKENIZER.grid - 1), st.integers(0, 7), st.integers(0, 127),
              st.integers(1, TOKENIZER.max_duration * TOKENIZER.grid)),
    st.builds(lambda n: [n], st.sampled_from(["piece", "end", "pitch_60", "dur_4", "part_3"])),
)


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(EVENT, min_size=1, max_size=30))
def test_every_decoded_piece_writes_a_midi_file_music21_reads_back(tmp_path_factory, events):
    ids = [TOKENIZER.index[name] for event in events for name in event]
    folder = tmp_path_factory.mktemp("pieces")
    for index, piece in enumerate(TOKENIZER.decode_pieces(ids)):
        path = write_piece(piece, folder / f"piece-{index}.mid", "midi", TOKENIZER.grid)
        score = parse_score(path)
        pitches = {int(p.midi) for n in score.recurse().notes for p in n.pitches}
        assert pitches == {note[3] for note in piece["notes"]}
