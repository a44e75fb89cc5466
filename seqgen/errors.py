"""The one exception type whose message is meant for the user (the CLI prints it as one line)."""


class SeqgenError(Exception):
    """A problem with the user's input or files: the message says what is wrong and how to fix it."""

    def _render_traceback_(self) -> list[str]:
        """What IPython and Jupyter show for it: the one line, not the frames of seqgen that raised it."""
        return [f"{type(self).__name__}: {' '.join(str(self).split())}"]
