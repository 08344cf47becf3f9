"""Cluster scale on Ray: a sharded backend (one population over K actors) and parameter sweeps.

* :mod:`credsim.distributed.ray_backend`: ``RayBackend(plan, shards=K)``, the ``"ray"`` backend of
  :func:`credsim.simulate`; each shard is an actor owning a contiguous block of agents, and the
  shards exchange only the packed blacklist bits their neighbours' contacts read.
* :mod:`credsim.distributed.sweep`: a grid of scenario variations × seeds, one Ray task per run,
  scored against the baseline with the same seed.
* :mod:`credsim.distributed.commands`: the ``credsim sweep`` command.

Importing this package does not import Ray; the modules above do, when used.
"""
