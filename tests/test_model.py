import torch

from seqgen.models import LSTMLanguageModel, ModelConfig


def test_shapes_and_carried_state():
    model = LSTMLanguageModel(ModelConfig(num_tokens=11, embedding_dim=8, hidden_size=16, num_layers=2))
    logits, (h, c) = model(torch.randint(11, (3, 5)))
    assert logits.shape == (3, 5, 11)
    assert h.shape == c.shape == (2, 3, 16)


def test_forget_bias_is_added_to_the_forget_gate_only():
    torch.manual_seed(0)
    plain = LSTMLanguageModel(ModelConfig(num_tokens=5, embedding_dim=4, hidden_size=6, num_layers=2))
    torch.manual_seed(0)
    biased = LSTMLanguageModel(ModelConfig(num_tokens=5, embedding_dim=4, hidden_size=6, num_layers=2, forget_bias=1.0))
    for layer in range(2):
        name = f"bias_ih_l{layer}"
        difference = (getattr(biased.lstm, name) - getattr(plain.lstm, name)).chunk(4)  # input, forget, cell, output
        assert torch.allclose(difference[1], torch.ones(6))
        assert all(torch.equal(d, torch.zeros(6)) for i, d in enumerate(difference) if i != 1)


def test_tied_weights_share_one_tensor_even_when_sizes_differ():
    same = LSTMLanguageModel(ModelConfig(num_tokens=9, embedding_dim=16, hidden_size=16, tie_weights=True))
    assert same.decoder.weight is same.embedding.weight and same.projection is None
    differ = LSTMLanguageModel(ModelConfig(num_tokens=9, embedding_dim=8, hidden_size=16, tie_weights=True))
    assert differ.decoder.weight is differ.embedding.weight
    assert differ(torch.zeros(2, 3, dtype=torch.long))[0].shape == (2, 3, 9)


def test_awd_regularisers_act_in_training_only_and_leave_the_weights_alone():
    torch.manual_seed(0)
    config = ModelConfig(num_tokens=7, embedding_dim=8, hidden_size=8, num_layers=2, dropout=0.3,
                         weight_drop=0.5, embedding_dropout=0.2, locked_dropout=True)
    model = LSTMLanguageModel(config)
    plain = LSTMLanguageModel(ModelConfig(num_tokens=7, embedding_dim=8, hidden_size=8, num_layers=2))
    plain.load_state_dict(model.state_dict())
    tokens = torch.randint(7, (3, 6))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    first, second = model(tokens)[0], model(tokens)[0]
    assert not torch.allclose(first, second)  # fresh masks each call
    first.sum().backward()
    assert model.lstm.weight_hh_l0.grad is not None  # gradients reach the real recurrent weights
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # dropping never edits them
    model.eval(), plain.eval()
    assert torch.allclose(model(tokens)[0], plain(tokens)[0])  # evaluation is the plain network
    # locked dropout: one mask for every time step of a sequence
    drop = LSTMLanguageModel(ModelConfig(num_tokens=7, embedding_dim=8, hidden_size=8, dropout=0.5, locked_dropout=True)).train()
    masked = drop._drop(torch.ones(2, 5, 8))
    assert torch.equal(masked, masked[:, :1].expand_as(masked))
