"""seqgen: train LSTM networks on sequences and generate from them."""

__version__ = "0.1.0"
