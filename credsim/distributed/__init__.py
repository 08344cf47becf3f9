"""Parameter sweeps on Ray: many runs at once (the sharded backend that spreads one run over many
actors is a backend: :mod:`credsim.backends.ray`).

* :mod:`credsim.distributed.sweep`: a grid of scenario variations × seeds, one Ray task per run,
  scored against the baseline with the same seed.
* :mod:`credsim.distributed.commands`: the ``credsim sweep`` command.

Importing this package does not import Ray; the modules above do, when used.
"""
