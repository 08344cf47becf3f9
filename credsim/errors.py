"""The one exception type users see: a one-line message naming the field and the problem."""


class CredsimError(Exception):
    """Bad input or an impossible request. The CLI prints ``str(err)`` and exits with code 2."""


class ScenarioError(CredsimError):
    """A scenario that cannot be loaded or validated."""
