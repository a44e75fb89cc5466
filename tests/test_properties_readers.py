"""Property tests of the file readers: whatever a file holds (text or raw bytes), each reader returns a
result or raises SeqgenError with a message for the user, never any other exception."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqgen.data.pairs import read_pairs
from seqgen.data.series import load_series, read_labeled_sequences, read_series_csv
from seqgen.errors import SeqgenError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text made of the characters that matter to these readers (separators, quotes, line ends, signs, digits,
# missing-value words), mixed with arbitrary text.
CELLS = st.sampled_from(["1", "-2.5", "1e3", "1e400", "nan", "NaN", "inf", "NA", "?", "-", "", " ", "label", "x",
                         "1_0", "0x10", "\u00e9", "\"", "'", "1,5", "2000-01", "\ufeff"])
SEPARATORS = st.sampled_from([",", ";", "\t", " ", "  ", "\r", "\n", "\r\n", "\"", "\x0b", "\x1c", "\u2028", "\x00"])
STRUCTURED = st.lists(st.one_of(CELLS, SEPARATORS), max_size=60).map("".join)
TEXT = st.one_of(STRUCTURED, st.text(max_size=200))
BYTES = st.one_of(st.binary(max_size=300), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
                  TEXT.map(lambda t: t.encode("utf-16")))


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _result_or_seqgen_error(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except SeqgenError as error:
        message = str(error)
        assert message and "\n" not in message, message
        return None


@pytest.mark.slow
@SETTINGS
@given(data=BYTES, column=st.sampled_from([None, "sales", "1", "x"]))
def test_the_series_csv_reader_returns_a_series_or_a_seqgen_error(tmp_path, data, column):
    path = _write(tmp_path, "series.csv", data)
    series = _result_or_seqgen_error(read_series_csv, path, column)
    if series is not None:
        assert len(series.values) >= 1 and np.all(np.isfinite(series.values))
        assert series.dates is None or len(series.dates) == len(series.values)
    loaded = _result_or_seqgen_error(load_series, str(path), column)
    assert (loaded is None) == (series is None)


@pytest.mark.slow
@SETTINGS
@given(data=BYTES, label_column=st.sampled_from([None, "label", "kind"]), labeled=st.booleans())
def test_the_labelled_sequence_reader_returns_sequences_or_a_seqgen_error(tmp_path, data, label_column, labeled):
    path = _write(tmp_path, "sequences.txt", data)
    read = _result_or_seqgen_error(read_labeled_sequences, path, label_column, labeled=labeled)
    if read is not None:
        labels, sequences = read
        assert len(labels) == len(sequences) >= 1
        assert all(len(s) >= 1 and np.all(np.isfinite(s)) for s in sequences)
        assert all(label for label in labels) if labeled else not any(labels)


@SETTINGS
@given(rows=st.lists(st.lists(CELLS, min_size=1, max_size=6), min_size=1, max_size=8),
       separator=st.sampled_from([",", " ", "\t", ";", ", "]), header=st.booleans())
@pytest.mark.slow
def test_ucr_and_csv_layouts_read_or_fail_cleanly(tmp_path, rows, separator, header):
    lines = ([separator.join(["label"] + [f"t{i}" for i in range(5)])] if header else []) + [separator.join(r) for r in rows]
    path = _write(tmp_path, "rows.txt", "\n".join(lines).encode("utf-8"))
    _result_or_seqgen_error(read_labeled_sequences, path)


@SETTINGS
@given(data=BYTES, columns=st.sampled_from([(None, None), (1, 2), (3, 4), (2, 1), (1, 1), (5, 9)]),
       encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "no-such-codec"]))
@pytest.mark.slow
def test_the_pairs_reader_returns_pairs_or_a_seqgen_error(tmp_path, data, columns, encoding):
    path = _write(tmp_path, "pairs.tsv", data)
    read = _result_or_seqgen_error(read_pairs, path, *columns, encoding=encoding)
    if read is not None:
        assert read.pairs and all(s.strip() and t.strip() for s, t in read.pairs)
        assert all("\x00" not in s + t for s, t in read.pairs)


@pytest.mark.slow
@SETTINGS
@given(rows=st.lists(st.lists(st.one_of(CELLS, st.text(max_size=8)), min_size=1, max_size=5), min_size=1, max_size=8))
def test_tab_separated_pairs_read_or_fail_cleanly(tmp_path, rows):
    path = _write(tmp_path, "rows.tsv", "\n".join("\t".join(r) for r in rows).encode("utf-8", "surrogatepass"))
    _result_or_seqgen_error(read_pairs, path)


# .ts files: a header drawn from real and broken tags, then cases of channels (':') of cells (','), a label last.
TS_TAGS = st.sampled_from(["@problemName x", "@timeStamps false", "@timeStamps true", "@missing true", "@univariate true",
                           "@univariate false", "@dimensions 2", "@dimensions 0", "@dimensions x", "@equalLength true",
                           "@equalLength false", "@seriesLength 3", "@classLabel true a b", "@classLabel false",
                           "@classLabel true", "@targetLabel true", "@unknownTag 1", "# comment", "@data", ""])
TS_CASE = st.tuples(st.lists(st.lists(CELLS, min_size=1, max_size=4).map(",".join), min_size=1, max_size=3),
                    st.sampled_from(["a", "b", "c", "", "1"])).map(lambda case: ":".join(case[0] + [case[1]]))


@SETTINGS
@given(header=st.lists(TS_TAGS, max_size=8), cases=st.lists(st.one_of(TS_CASE, CELLS), max_size=6),
       labeled=st.booleans())
@pytest.mark.slow
def test_the_ts_reader_returns_sequences_or_a_one_line_error(tmp_path, header, cases, labeled):
    path = _write(tmp_path, "cases.ts", "\n".join(header + cases).encode("utf-8"))
    read = _result_or_seqgen_error(read_labeled_sequences, path, labeled=labeled)
    if read is not None:
        labels, sequences = read
        assert len(labels) == len(sequences) >= 1
        assert all(len(s) >= 1 and np.all(np.isfinite(s)) for s in sequences)
        assert len({s.shape[1:] for s in sequences}) == 1  # every case has the same channels
        assert all(label in ("a", "b") for label in labels) if labeled else not any(labels)
