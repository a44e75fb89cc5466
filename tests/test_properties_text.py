"""Property-based tests (hypothesis) of what parses data from outside: the char and sentencepiece
tokenizers round-trip any text or raise seqgen's own error, and tokenizer states of any shape
load or raise seqgen's own error."""

import numpy as np
import pytest
from conftest import make_text
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from seqgen.errors import SeqgenError
from seqgen.tokenizers import tokenizer_from_state
from seqgen.tokenizers.char import CharTokenizer, UnknownCharacterError
from seqgen.tokenizers.sentencepiece import SentencePieceTokenizer

# Every code point Python strings hold, lone surrogates included (a char model sees code points).
ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
# What a UTF-8 file can hold: no lone surrogates.
FILE_CHARACTER = st.characters(exclude_categories=("Cs",))

FAST = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text(ANY_CHARACTER, max_size=200))
def test_char_tokenizer_round_trips_any_string_it_was_fitted_on(text):
    tokenizer = CharTokenizer.fit(text)
    ids = tokenizer.encode(text)
    assert len(ids) == len(text) and tokenizer.decode(ids) == text
    assert (ids >= 0).all() and (ids < max(1, tokenizer.vocab_size)).all()
    again = tokenizer_from_state(tokenizer.to_state())
    assert again.chars == tokenizer.chars and again.decode(again.encode(text)) == text


@FAST
@given(st.text(ANY_CHARACTER, max_size=100), ANY_CHARACTER, st.text(ANY_CHARACTER, max_size=20))
def test_char_tokenizer_refuses_an_unseen_character_with_its_own_error(seen, unseen, tail):
    assume(unseen not in seen)
    tokenizer = CharTokenizer.fit(seen)
    with pytest.raises(UnknownCharacterError) as caught:
        tokenizer.encode(seen + unseen + tail)
    assert isinstance(caught.value, SeqgenError)
    assert "\n" not in str(caught.value) and "never saw" in str(caught.value)


@pytest.fixture(scope="module")
def bpe():
    text = make_text(1500, seed=3) + "Ça coûte cher: naïve café, ☃ and 日本語 too.\n"
    return SentencePieceTokenizer.fit(text, "bpe", 360)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(FILE_CHARACTER, max_size=200))
def test_sentencepiece_round_trips_any_text_or_says_why(bpe, text):
    try:
        ids = bpe.encode(text)
    except SeqgenError:
        return
    assert ids.dtype == bpe.dtype and ((ids >= 0) & (ids < bpe.vocab_size)).all()
    assert bpe.decode(ids) == text


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(FILE_CHARACTER, max_size=100))
def test_sentencepiece_state_round_trips(bpe, text):
    again = tokenizer_from_state(bpe.to_state())
    assert isinstance(again, SentencePieceTokenizer) and again.kind == bpe.kind and again.model == bpe.model
    assert again.vocab_size == bpe.vocab_size and again.start_id() == bpe.start_id()
    assert np.array_equal(again.encode(text), bpe.encode(text))


# -- tokenizer states of any shape ----------------------------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.binary(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
KINDS = st.sampled_from(["char", "bpe", "unigram", "music", "words", ""]) | JSONISH
STATE_KEYS = st.sampled_from(["kind", "chars", "model", "version", "grid", "max_duration", "max_bar"]) | st.text(max_size=8)


def load_or_refuse(state):
    try:
        tokenizer = tokenizer_from_state(state)
    except SeqgenError as error:
        assert str(error) and "\n" not in str(error)
        return None
    assert tokenizer.vocab_size >= 0
    return tokenizer


@pytest.mark.slow
@settings(max_examples=400, deadline=None, database=None)
@given(st.dictionaries(STATE_KEYS, JSONISH, max_size=6), KINDS)
def test_any_tokenizer_state_loads_or_raises_seqgen_error(state, kind):
    load_or_refuse({**state, "kind": kind})


@pytest.mark.slow
@settings(max_examples=150, deadline=None, database=None)
@given(JSONISH)
def test_a_tokenizer_state_that_is_no_mapping_raises_seqgen_error(state):
    load_or_refuse(state)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, database=None)
@given(st.sampled_from(["bpe", "unigram"]), st.binary(max_size=200) | st.text(max_size=50) | JSONISH)
def test_any_sentencepiece_model_bytes_load_or_raise_seqgen_error(kind, model):
    load_or_refuse({"kind": kind, "model": model})


@settings(max_examples=200, deadline=None, database=None)
@given(st.fixed_dictionaries({}, optional={"grid": JSONISH | st.integers(-5, 30), "max_duration": JSONISH | st.integers(-5, 30),
                                          "max_bar": JSONISH | st.integers(-5, 30), "version": JSONISH | st.integers(0, 3)}))
@pytest.mark.slow
def test_any_music_tokenizer_state_loads_or_raises_seqgen_error(state):
    tokenizer = load_or_refuse({**state, "kind": "music"})
    if tokenizer is not None:  # what loads is usable: the vocabulary is the one its settings make
        assert tokenizer.vocab_size == len(set(tokenizer.tokens)) > 0


@pytest.mark.slow
@settings(max_examples=200, deadline=None, database=None)
@given(st.text(ANY_CHARACTER, max_size=30) | JSONISH)
def test_any_char_table_loads_or_raises_seqgen_error(chars):
    tokenizer = load_or_refuse({"kind": "char", "chars": chars})
    if tokenizer is not None and tokenizer.vocab_size:
        ids = np.arange(tokenizer.vocab_size)
        assert tokenizer.encode(tokenizer.decode(ids)).tolist() == ids.tolist()
