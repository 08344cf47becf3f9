"""The ``"ray"`` backend: one population split over K Ray actors ("shards"), exact for every K.

* :mod:`credsim.backends.ray.driver`: ``RayBackend(plan, shards=K)``, the backend the registry
  (:mod:`credsim.backends`) builds for ``--backend ray``; it runs the day loop's side of the shards.
* :mod:`credsim.backends.ray.partition`: the shards' bounds and the exchange plan (pure functions
  of the plan, no Ray).
* :mod:`credsim.backends.ray.shard`: the actor; Ray workers import it by this module path.
* :mod:`credsim.backends.ray.pool`: the Ray session and the pool of idle actors.

Importing this package does not import Ray; the modules above do, when used.
"""
