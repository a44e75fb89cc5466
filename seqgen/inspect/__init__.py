"""The LSTM made visible: every gate, C and h of a trained model reading an input (seqgen.models.gates),
recorded step by step (record), the units that follow simple features of the input (features), and the
page (page) and heat map (heatmap) that show them. Each task's model object has an `inspect` method."""

from seqgen.inspect.features import frame_features, music_features, rank_units, series_features, text_features
from seqgen.inspect.record import WINDOW, Inspection, NpzStream, check_steps, read_in_windows
from seqgen.models.gates import NAMES

__all__ = ["NAMES", "WINDOW", "Inspection", "NpzStream", "check_steps", "frame_features", "music_features", "rank_units",
           "read_in_windows", "series_features", "text_features"]
