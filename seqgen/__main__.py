"""`python -m seqgen` runs the command line."""

from seqgen.cli import main

main()
