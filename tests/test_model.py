import torch

from seqgen.config import ModelConfig
from seqgen.models import LSTMLanguageModel


def test_shapes_and_carried_state():
    model = LSTMLanguageModel(ModelConfig(vocab_size=11, embedding_dim=8, hidden_size=16, num_layers=2))
    logits, (h, c) = model(torch.randint(11, (3, 5)))
    assert logits.shape == (3, 5, 11)
    assert h.shape == c.shape == (2, 3, 16)


def test_forget_gate_bias_starts_at_one():
    model = LSTMLanguageModel(ModelConfig(vocab_size=5, embedding_dim=4, hidden_size=6, num_layers=2))
    for layer in range(2):
        total = getattr(model.lstm, f"bias_ih_l{layer}") + getattr(model.lstm, f"bias_hh_l{layer}")
        input_gate, forget_gate, cell_gate, output_gate = total.chunk(4)
        assert torch.all(forget_gate == 1)
        assert torch.all(input_gate == 0) and torch.all(output_gate == 0)


def test_tied_weights_share_one_tensor_even_when_sizes_differ():
    same = LSTMLanguageModel(ModelConfig(vocab_size=9, embedding_dim=16, hidden_size=16, tie_weights=True))
    assert same.decoder.weight is same.embedding.weight and same.projection is None
    differ = LSTMLanguageModel(ModelConfig(vocab_size=9, embedding_dim=8, hidden_size=16, tie_weights=True))
    assert differ.decoder.weight is differ.embedding.weight
    assert differ(torch.zeros(2, 3, dtype=torch.long))[0].shape == (2, 3, 9)
