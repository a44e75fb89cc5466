import torch

from seqgen.config import ModelConfig
from seqgen.models import LSTMLanguageModel
from seqgen.sample import filter_logits, generate, sample_next


def model():
    torch.manual_seed(0)
    return LSTMLanguageModel(ModelConfig(vocab_size=7, embedding_dim=6, hidden_size=12, num_layers=2)).eval()


def test_temperature_zero_is_argmax_and_carried_state_matches_rerunning_the_prefix():
    net = model()
    prime = torch.tensor([[1, 2, 3]])
    tokens = torch.cat(list(generate(net, prime, 10, temperature=0.0)))
    sequence = prime[0].tolist()
    with torch.no_grad():
        for token in tokens.tolist():
            logits, _ = net(torch.tensor([sequence]))  # the slow way: the whole prefix again
            assert token == int(logits[0, -1].argmax())
            sequence.append(token)


def test_same_seed_same_sample_and_another_seed_differs():
    net = model()
    prime = torch.tensor([[0]]).repeat(3, 1)

    def draw(seed):
        generator = torch.Generator().manual_seed(seed)
        return torch.stack(list(generate(net, prime, 40, temperature=1.5, generator=generator)), 1)

    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


def test_top_k_and_top_p_keep_only_the_likely_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isfinite(filter_logits(logits, 2, None)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, None, 0.7)).tolist() == [[True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, None, 0.5)).tolist() == [[True, False, False, False]]
    assert torch.isfinite(filter_logits(logits, None, 0.81)).tolist() == [[True, True, True, False]]
    generator = torch.Generator().manual_seed(0)
    draws = {int(sample_next(logits, 1.0, top_k=2, generator=generator)) for _ in range(200)}
    assert draws == {0, 1}


def test_the_fused_step_matches_the_model_forward():
    from seqgen.sample import LSTMStepper

    for tie in (False, True):
        torch.manual_seed(1)
        net = LSTMLanguageModel(ModelConfig(vocab_size=9, embedding_dim=6, hidden_size=10, num_layers=3, tie_weights=tie)).eval()
        tokens = torch.randint(9, (2, 5))
        with torch.no_grad():
            expected, _ = net(tokens)
            step = LSTMStepper(net)
            h = [torch.zeros(2, 10) for _ in range(3)]
            c = [torch.zeros(2, 10) for _ in range(3)]
            for t in range(5):
                assert torch.allclose(step(tokens[:, t], h, c), expected[:, t], atol=1e-5)
