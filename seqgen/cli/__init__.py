"""The `seqgen` command line: each command parses its options, calls the Python API, prints."""

from seqgen.cli import evaluate, inspect, language_model, series, train, translate  # noqa: F401  (importing registers the commands)
from seqgen.cli.base import cli

train._register()
main = cli
