"""The `seqgen` command line: each command parses its options, calls the Python API, prints. It knows the tasks
only through seqgen.tasks.TASKS: each task's present.py says what it shows and adds its own commands."""

from seqgen.cli import corpora, evaluate, inspect, serve, train  # noqa: F401  (importing registers the commands)
from seqgen.cli.base import cli
from seqgen.tasks import TASKS, presentation

for _task in TASKS:
    for _command in presentation(_task).COMMANDS:
        cli.add_command(_command)
main = cli
