"""Sampling from a language model: temperature, top-k, top-p, the fused CPU step, the CUDA-graph step,
carried state and streamed text."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Iterator, Optional

import torch


@dataclass(frozen=True)
class Sampling:
    """How each token is drawn: `temperature` (0: always the most likely token), `top_k` and `top_p` filtering, and
    the weights of the CPU step (`precision`, see resolve_sample_precision)."""

    temperature: float = 1.0
    top_k: Optional[int] = None
    top_p: Optional[float] = None
    precision: str = "fp32"


def filter_logits(logits: torch.Tensor, top_k: Optional[int], top_p: Optional[float]) -> torch.Tensor:
    """Keep the k most likely tokens and/or the smallest set whose probability reaches p. (N, V) → (N, V)"""
    if top_k is not None and 0 < top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        # Drop a token once the tokens before it already reach p; the most likely always stays.
        drop = cumulative - sorted_logits.softmax(-1) >= top_p
        logits = logits.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return logits


def sample_next(logits: torch.Tensor, temperature: float, top_k: Optional[int] = None,
                top_p: Optional[float] = None, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """One token per row of logits (N, V) → (N,). Temperature 0 is greedy (argmax)."""
    logits = logits.float()
    if temperature == 0:
        return logits.argmax(-1)
    if temperature != 1.0:
        logits = logits / temperature
    logits = filter_logits(logits, top_k, top_p)
    return torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)


SAMPLE_PRECISIONS = ("auto", "fp32", "int8")
# Above this many samples at once nn.LSTM's own kernel is faster than the fp32 fused step on the CPU; the int8
# fused step is the faster at every batch size (scripts/bench_sample.py times them).
FUSED_MAX_BATCH = 32


def int8_available() -> bool:
    """PyTorch's dynamically quantized linear kernels (fbgemm / x86 / onednn / qnnpack) are built in."""
    try:
        return bool(torch.backends.quantized.supported_engines) and hasattr(torch.ops.quantized, "linear_dynamic")
    except (AttributeError, RuntimeError):
        return False


def resolve_sample_precision(name: str, device: torch.device) -> str:
    """'auto' → int8 weights for the fused step on the CPU where PyTorch has the kernels (at every batch size),
    else fp32 (GPUs run the CUDA graph in fp32)."""
    if name not in SAMPLE_PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(SAMPLE_PRECISIONS)}, not {name!r}")
    if name in ("int8", "auto"):
        return "int8" if device.type == "cpu" and int8_available() else "fp32"
    return name


def _int8_linear(weight: torch.Tensor, bias):
    """A linear layer with int8 weights, one scale per output row (per channel), through PyTorch's dynamic
    quantization: each call quantizes its input on the fly and accumulates in int32."""
    import warnings

    import torch.ao.nn.quantized.dynamic as quantized
    from torch.ao.quantization import per_channel_dynamic_qconfig

    linear = torch.nn.Linear(weight.size(1), weight.size(0), bias=bias is not None)
    with torch.no_grad():
        linear.weight.copy_(weight.float())
        if bias is not None:
            linear.bias.copy_(bias.float())
    linear.qconfig = per_channel_dynamic_qconfig
    with warnings.catch_warnings():  # torch notes that quantized tensors will move to torchao; the kernels remain
        warnings.simplefilter("ignore")
        return quantized.Linear.from_float(linear)


class FusedLSTM:
    """A stacked, unidirectional nn.LSTM stepped one time step at a time, without nn.LSTM's per-call
    overhead (large on the CPU at small batches): each layer's input and recurrent matrices are fused
    into one, so a step is one matrix product and a few pointwise operations per layer, and the results
    match nn.LSTM's. With int8=True the products use int8 weights with a scale per output channel: a
    quarter of the memory each step reads, which is what a small-batch step waits on."""

    def __init__(self, lstm: torch.nn.LSTM, int8: bool = False):
        self.int8 = int8
        self.num_layers, self.hidden_size = lstm.num_layers, lstm.hidden_size
        self.weights, self.biases, self.layers = [], [], []
        # nn.LSTM's gate rows are ordered i, f, g, o; here i, f, o, g, so one sigmoid covers three gates.
        hidden = lstm.hidden_size
        order = torch.cat([torch.arange(0, 2 * hidden), torch.arange(3 * hidden, 4 * hidden),
                           torch.arange(2 * hidden, 3 * hidden)]).to(lstm.weight_ih_l0.device)
        for layer in range(lstm.num_layers):
            w_ih, w_hh = getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"weight_hh_l{layer}")
            fused = torch.cat([w_ih, w_hh], dim=1)[order]  # (4H, I + H)
            bias = (getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}"))[order]
            if int8:
                self.layers.append(_int8_linear(fused, bias))
            else:
                self.weights.append(fused.t().contiguous())  # (I + H, 4H)
                self.biases.append(bias)

    def _gates(self, layer: int, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        inputs = torch.cat([x, h], dim=1)  # (N, I + H)
        if self.int8:
            return self.layers[layer](inputs)
        return torch.addmm(self.biases[layer], inputs, self.weights[layer])  # (N, 4H)

    def step(self, x: torch.Tensor, h: list, c: list) -> torch.Tensor:
        """x (N, I) → the top layer's output (N, H); h and c, lists of (N, H) per layer, are updated in place."""
        split = 3 * self.hidden_size
        for layer in range(self.num_layers):
            gates = self._gates(layer, x, h[layer])
            i, f, o = torch.sigmoid(gates[:, :split]).chunk(3, dim=1)
            c[layer] = torch.addcmul(f * c[layer], i, torch.tanh(gates[:, split:]))
            h[layer] = x = o * torch.tanh(c[layer])
        return x


def int8_or_float(linear: Optional[torch.nn.Linear], int8: bool):
    """The layer itself, or its int8 copy."""
    if linear is None or not int8:
        return linear
    return _int8_linear(linear.weight, linear.bias)


class LSTMStepper:
    """A language model one token at a time: embedding, the FusedLSTM step, the output layer (int8 too
    with int8=True)."""

    def __init__(self, model, int8: bool = False):
        self.cell = FusedLSTM(model.lstm, int8)
        self.int8 = int8
        self.num_layers, self.hidden_size = self.cell.num_layers, self.cell.hidden_size
        self.embedding = model.embedding.weight
        self.projection = int8_or_float(model.projection, int8)
        self.decoder = int8_or_float(model.decoder, int8)

    def __call__(self, token: torch.Tensor, h: list, c: list) -> torch.Tensor:
        """token (N,) → logits (N, V); h and c, lists of (N, H) per layer, are updated in place."""
        x = self.cell.step(self.embedding[token], h, c)  # (N, H)
        if self.projection is not None:
            x = self.projection(x)
        return self.decoder(x)

    def score(self, ids: torch.Tensor) -> float:
        """Mean cross-entropy (nats per token) of the 1-D token sequence `ids`, read one token at a time
        through this step: how the quality of a sampling path is measured."""
        h = [torch.zeros(1, self.hidden_size, device=ids.device) for _ in range(self.num_layers)]
        c = [t.clone() for t in h]
        total = torch.zeros((), dtype=torch.float64)
        with torch.inference_mode():
            for position in range(len(ids) - 1):
                logits = self(ids[position:position + 1], h, c).float()  # (1, V)
                total += torch.nn.functional.cross_entropy(logits, ids[position + 1:position + 2]).double()
        return float(total) / max(1, len(ids) - 1)


def bare_linear(layer):
    """A function x (N, in) → (N, out) doing exactly what `layer` (nn.Linear or its int8 copy) does, without
    the module call: the int8 kernel's own op on the packed weights, or addmm (what F.linear runs for 2-D
    inputs). The second value says whether the function takes an `out=` buffer."""
    packed = getattr(layer, "_packed_params", None)
    if packed is not None:
        op, weights = torch.ops.quantized.linear_dynamic, packed._packed_params
        if getattr(layer, "version", None) is None or layer.version < 4:
            return (lambda x: op(x, weights)), False
        return (lambda x: op(x, weights, reduce_range=True)), False
    weight_t, bias = layer.weight.detach().t(), layer.bias
    if bias is None:
        return partial(torch.mm, mat2=weight_t), True
    return partial(torch.addmm, bias.detach(), mat2=weight_t), True


class BufferedStep:
    """The decode step of `generate` on the CPU: an LSTMStepper's arithmetic, token by token, on buffers made
    once. Each layer's input and its own last output share one (N, I + H) buffer, so no step concatenates,
    the cell state is updated in place, and the products are called without the module layer: at batch 1
    the step spends its time in the two LSTM products instead of around them. It computes exactly what
    LSTMStepper computes (the same kernels on the same values)."""

    def __init__(self, stepper: "LSTMStepper", h: list, c: list):
        cell, rows, hidden = stepper.cell, h[0].size(0), stepper.hidden_size
        self.split = 3 * hidden
        inputs, self.layers = [], []
        for layer in range(cell.num_layers):
            width = (cell.layers[layer].in_features if cell.int8 else cell.weights[layer].size(0)) - hidden
            buffer = h[layer].new_empty(rows, width + hidden)  # (N, I + H): this layer's input, then its own h
            buffer[:, width:] = h[layer]
            inputs.append(buffer)
        self.x = inputs[0][:, :inputs[0].size(1) - hidden]  # where the embedding of the token goes
        self.top = h[-1].new_empty(rows, hidden)  # the top layer's h, contiguous, for the output layers
        for layer, buffer in enumerate(inputs):
            if cell.int8:
                product, gates = bare_linear(cell.layers[layer])[0], None
            else:
                product = partial(torch.addmm, cell.biases[layer], mat2=cell.weights[layer])
                gates = h[layer].new_empty(rows, 4 * hidden)
            sig, cand, squashed = (h[layer].new_empty(rows, n) for n in (self.split, hidden, hidden))
            h_out = self.top if layer == len(inputs) - 1 else inputs[layer + 1][:, :hidden]
            self.layers.append((buffer, product, gates, sig, sig[:, :hidden], sig[:, hidden:2 * hidden],
                                sig[:, 2 * hidden:], cand, squashed, c[layer].clone(), h_out, buffer[:, -hidden:]))
        self.embedding = stepper.embedding
        self.head = []  # the output layers: (product, its out buffer or None)
        for linear in (stepper.projection, stepper.decoder):
            if linear is not None:
                product, takes_out = bare_linear(linear)
                self.head.append((product, h[-1].new_empty(rows, linear.out_features) if takes_out else None))

    def __call__(self, token: torch.Tensor) -> torch.Tensor:
        """token (N,) → logits (N, V). The tensor returned is reused by the next call."""
        torch.index_select(self.embedding, 0, token, out=self.x)
        split = self.split
        for buffer, product, gates, sig, i, f, o, cand, squashed, c, h_out, h_slot in self.layers:
            gates = product(buffer) if gates is None else product(buffer, out=gates)  # (N, 4H): i, f, o, g
            torch.sigmoid(gates[:, :split], out=sig)
            torch.tanh(gates[:, split:], out=cand)
            c.mul_(f).addcmul_(i, cand)  # c = f * c + i * g
            torch.tanh(c, out=squashed)
            torch.mul(o, squashed, out=h_out)  # h: the next layer's input (or the top output) ...
            h_slot.copy_(h_out)  # ... and this layer's own input at the next step
        x = self.top
        for product, out in self.head:
            x = product(x) if out is None else product(x, out=out)
        return x


class Draw:
    """The sampling tail of `generate`: one token per row of logits (N, V), exactly as sample_next draws it
    (the same generator calls, the same values) with fewer operations. torch.multinomial draws one sample as
    the argmax of p / E with E ~ Exp(1) from the generator, after checking p (a handful of small reductions
    and host reads per call); softmax of finite logits needs no check, so the race is run directly here."""

    def __init__(self, logits: torch.Tensor, sampling: Sampling, generator: Optional[torch.Generator]):
        self.sampling, self.generator = sampling, generator
        self.direct = sampling.temperature != 0 and sampling.top_k is None and sampling.top_p is None
        shape = logits.shape
        self.scaled, self.probs, self.noise = (torch.empty(shape, device=logits.device) for _ in range(3))

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        s = self.sampling
        if not self.direct:
            return sample_next(logits, s.temperature, s.top_k, s.top_p, generator=self.generator)
        temperature = s.temperature
        logits = logits.float()
        if temperature != 1.0:
            logits = torch.div(logits, temperature, out=self.scaled)
        torch.softmax(logits, -1, out=self.probs)
        self.noise.exponential_(generator=self.generator)
        return torch.div(self.probs, self.noise, out=self.noise).argmax(-1)  # (N,)


def pick_with_noise(logits: torch.Tensor, noise: torch.Tensor, temperature: float, top_k: Optional[int] = None,
                    top_p: Optional[float] = None) -> torch.Tensor:
    """Sample (N, V) logits → (N,) with the exponential-race (Gumbel-max) trick: argmax of p / E.

    With E ~ Exp(1) drawn independently per entry, the argmax of log p - log E is distributed
    exactly as p, so sampling needs no multinomial call and no host sync: the draw can live
    inside a CUDA graph while the noise is filled outside it.
    """
    if temperature == 0:
        return logits.argmax(-1)
    logits = filter_logits(logits.float() / temperature, top_k, top_p)
    return (logits - noise.clamp_min(1e-30).log()).argmax(-1)


class StaticSampler:
    """The whole decode step — sample a token, embed it, run the LSTM layers and the output layer —
    on fixed buffers, so that on CUDA it is captured once as a CUDA graph and replayed per token.

    One graph replay replaces the dozens of kernel launches of an eager step, which is what a
    batch-1 decode on a GPU spends its time on. The noise for sampling is drawn from the user's
    generator outside the graph (one launch per step), so a seed still fixes the text. Where
    capture is not possible (the CPU, or a failed capture) the same step runs eagerly.
    """

    def __init__(self, model, logits: torch.Tensor, h: list, c: list, sampling: Sampling = Sampling(),
                 generator: Optional[torch.Generator] = None, capture: Optional[bool] = None):
        self.stepper = LSTMStepper(model)
        self.sampling = sampling
        self.generator = generator
        self.logits = logits.float().clone()  # (N, V): the distribution of the next token
        self.noise = torch.ones_like(self.logits)
        self.h, self.c = [t.clone() for t in h], [t.clone() for t in c]  # per layer (N, H)
        self.token = torch.zeros(self.logits.size(0), dtype=torch.long, device=self.logits.device)
        self.graph = None
        if capture is None:
            capture = self.logits.is_cuda
        if capture:
            self.graph = self._capture()

    def _step(self) -> None:
        s = self.sampling
        token = pick_with_noise(self.logits, self.noise, s.temperature, s.top_k, s.top_p)
        self.token.copy_(token)
        h, c = list(self.h), list(self.c)
        logits = self.stepper(token, h, c)
        for static, new in zip(self.h + self.c + [self.logits], h + c + [logits]):
            static.copy_(new)

    def _capture(self):
        buffers = self.h + self.c + [self.logits, self.token]
        saved = [b.clone() for b in buffers]
        with torch.cuda.device(self.logits.device):  # the model's GPU, which need not be the current one
            caller = torch.cuda.current_stream()
            stream = torch.cuda.Stream()
            graph = torch.cuda.CUDAGraph()
            try:
                stream.wait_stream(caller)
                with torch.cuda.stream(stream):  # warm-up runs allocate outside the graph, as capture requires
                    for _ in range(3):
                        self._step()
                caller.wait_stream(stream)
                with torch.cuda.graph(graph, stream=stream):
                    self._step()
            except RuntimeError as error:  # keep sampling, eagerly, rather than fail
                import warnings

                torch.cuda.set_stream(caller)  # a failed capture can leave its stream current
                torch.cuda.synchronize()  # raises again if the error left the device unusable
                warnings.warn(f"CUDA graph capture failed ({error}); sampling step by step instead", stacklevel=2)
                graph = None
            for buffer, value in zip(buffers, saved):  # the warm-up steps must not advance the text
                buffer.copy_(value)
        return graph

    def __call__(self) -> torch.Tensor:
        """The next token (N,); the state advances by one step. The tensor is reused: copy to keep it."""
        if self.sampling.temperature != 0:
            self.noise.exponential_(generator=self.generator)
        if self.graph is not None:
            with torch.cuda.device(self.logits.device):
                self.graph.replay()
        else:
            self._step()
        return self.token


@torch.inference_mode()
def generate(model, prime: torch.Tensor, length: int, sampling: Sampling = Sampling(),
             generator: Optional[torch.Generator] = None, bias: Optional[torch.Tensor] = None,
             threads=None) -> Iterator[torch.Tensor]:
    """Yield `length` tokens (N,) continuing `prime` (N, P), one step at a time, drawn as `sampling` says.

    The primer runs through the LSTM once; after that each step feeds only the newest token and
    the carried (h, c) state, so the cost per token does not grow with the text. `sampling.precision`
    chooses the step's weights on the CPU (see resolve_sample_precision): fp32, or int8. `bias`
    (V, V), 0 or -inf, is added to the logits after each token: the tokens that cannot follow it
    are never drawn (the frame encoding's rule, seqgen.music.frames). `threads` (a seqgen.threads.ThreadPolicy,
    entered by the caller) times each step on the CPU.
    """
    model.eval()
    logits, (h, c) = model(prime)  # (N, P, V)
    logits = _follow(logits[:, -1], bias, prime[:, -1])
    if prime.is_cuda and bias is None:  # one CUDA graph replay per token instead of an eager step's many launches
        sampler = StaticSampler(model, logits, list(h.unbind(0)), list(c.unbind(0)), sampling, generator)
        for _ in range(length):
            yield sampler().clone()
        return
    int8 = resolve_sample_precision(sampling.precision, prime.device) == "int8"
    observe = threads.observe if threads is not None else None
    clock = time.perf_counter
    if prime.size(0) > FUSED_MAX_BATCH and not int8:
        state = (h, c)
        for _ in range(length):
            start = clock()
            token = sample_next(logits, sampling.temperature, sampling.top_k, sampling.top_p, generator)  # (N,)
            logits, state = model(token[:, None], state)
            logits = _follow(logits[:, -1], bias, token)
            if observe is not None:
                observe(clock() - start)
            yield token
        return
    step = BufferedStep(LSTMStepper(model, int8=int8), list(h.unbind(0)), list(c.unbind(0)))
    draw = Draw(logits, sampling, generator)
    for _ in range(length):
        start = clock()
        token = draw(logits)  # (N,)
        logits = _follow(step(token), bias, token)
        if observe is not None:
            observe(clock() - start)
        yield token


def _follow(logits: torch.Tensor, bias: Optional[torch.Tensor], token: torch.Tensor) -> torch.Tensor:
    """Logits (N, V) of the token after `token` (N,), with the tokens that cannot follow it masked."""
    return logits if bias is None else logits.float() + bias[token]


def stream_text(tokenizer, tokens: Iterator[torch.Tensor]) -> Iterator[str]:
    """Turn a single sample's tokens into text pieces as soon as they decode to whole characters."""
    pending: list[int] = []
    for token in tokens:
        pending.append(int(token[0]))
        text = tokenizer.decode(pending)
        if not text.endswith("\ufffd"):  # a byte-fallback character may still be incomplete
            pending.clear()
            yield text
    if pending:
        yield tokenizer.decode(pending)
