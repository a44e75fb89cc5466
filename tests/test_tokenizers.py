import numpy as np
import pytest
from conftest import make_text

from seqgen.errors import SeqgenError
from seqgen.tokenizers import fit_tokenizer, tokenizer_from_state
from seqgen.tokenizers.char import CharTokenizer

ACCENTED = "Não há coração que não sinta.\nÇa coûte très cher, où êtes-vous ?\n日本語 ✓ 🎵\n"


@pytest.mark.parametrize("text", ["hello world\n", ACCENTED, make_text(200)])
def test_char_round_trip_keeps_every_code_point(text):
    tokenizer = CharTokenizer.fit(text)
    ids = tokenizer.encode(text)
    assert len(ids) == len(text)  # one token per Unicode character, not per UTF-8 byte
    assert tokenizer.decode(ids) == text
    assert tokenizer.vocab_size == len(set(text))


def test_char_tokenizer_survives_its_state():
    tokenizer = CharTokenizer.fit(ACCENTED)
    again = tokenizer_from_state(tokenizer.to_state())
    assert np.array_equal(again.encode(ACCENTED), tokenizer.encode(ACCENTED))


def test_char_unknown_character_is_named_in_a_clear_error():
    tokenizer = CharTokenizer.fit("abc ")
    with pytest.raises(SeqgenError, match="never saw.*'z'"):
        tokenizer.encode("abz")


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_sentencepiece_round_trip_is_exact(kind):
    text = make_text(3000) + ACCENTED
    tokenizer = fit_tokenizer(kind, text, 340)
    assert tokenizer.vocab_size == 340
    sample = "The quick fox  jumps\n\nover Não coração.\n"
    ids = tokenizer.encode(sample)
    assert len(ids) < len(sample)  # subwords, not characters
    assert tokenizer.decode(ids) == sample
    # characters never seen in training fall back to bytes instead of failing
    unseen = "Ωμέγα ∂x\n"
    assert tokenizer.decode(tokenizer.encode(unseen)) == unseen
    again = tokenizer_from_state(tokenizer.to_state())
    assert again.kind == kind
    assert np.array_equal(again.encode(sample), ids)


def test_sentencepiece_vocab_too_large_is_a_clear_error():
    with pytest.raises(SeqgenError, match="--vocab-size 50000 is too large.*at most"):
        fit_tokenizer("bpe", "tiny text here\n" * 5, 50_000)
