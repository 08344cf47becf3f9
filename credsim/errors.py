"""The one exception type users see: a one-line message naming the field and the problem."""

import re

#: Longest value echoed in a message; longer ones are cut to this many characters and "…".
SHOWN_CHARS = 40
#: A quoted value (a repr): the opening quote after a space, bracket or punctuation, the closing one
#: before such a character or the end, so that apostrophes in words ("baseline's") are not quotes.
_LONG_QUOTED = re.compile(
    r"""(?<![^\s(\[{=:,])(?:'(?:[^'\\\n]|\\.){%d,}'|"(?:[^"\\\n]|\\.){%d,}")(?![^\s)\]},;:.!?…])"""
    % (SHOWN_CHARS + 1, SHOWN_CHARS + 1)
)
_LONG_DIGITS = re.compile(r"\d{%d,}" % (SHOWN_CHARS + 1))


def clip(message: str) -> str:
    """``message`` with each long quoted value (a repr) or digit run cut to its first SHOWN_CHARS
    characters and "…": a 5,000-character bad name is not echoed whole."""

    def quoted(m: re.Match) -> str:
        q = m.group(0)[0]
        return m.group(0)[: SHOWN_CHARS + 1] + "…" + q

    message = _LONG_QUOTED.sub(quoted, message)
    return _LONG_DIGITS.sub(lambda m: m.group(0)[:SHOWN_CHARS] + "…", message)


class CredsimError(Exception):
    """Bad input or an impossible request. The CLI prints ``str(err)`` and exits with code 2."""

    def __init__(self, message="", *args):
        super().__init__(clip(str(message)), *args)


class ScenarioError(CredsimError):
    """A scenario that cannot be loaded or validated."""
