"""Every JSON shape a command prints with ``--format json`` (stable: docs/json-output.md).

One module per family; each function turns a use case's result into plain dicts, keys in the
order they are printed. Commands import the function they need (``from
patchwarden.app.serialize.check import check_dict``); nothing else builds output dicts.

- :mod:`.check`: ``inventory``, ``check``
- :mod:`.update`: ``update``
- :mod:`.live`: ``engine update`` / ``engine rollback`` results, hook runs, ``engine history``
- :mod:`.trust`: ``verify`` results and the trust gate's decision (in ``check`` and ``registry
  promote``)
- :mod:`.registry`: ``registry promote``, ``registry tags``, ``registry retain``
- :mod:`.rebuild`: ``rebuild --check``, ``rebuild``, ``patch``
- :mod:`.db`: ``db import``, ``db update``, ``db status``, ``version``
- :mod:`.rollout`: ``rollout list`` (``rollout status`` prints the rollout's report document)
"""
