"""The `seqgen` command line: each command builds a config, calls one library function, reports."""

from seqgen.cli import language_model, series, translate  # noqa: F401  (importing registers their commands)
from seqgen.cli.base import cli

main = cli
