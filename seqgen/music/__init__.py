"""Music: scores read and written with music21, encoded as event tokens for the language model.

This package is the only one that imports music21.
"""
