"""Hard caps that keep a hostile image from exhausting memory, disk or time.

Memory per scan is bounded by: the facts kept (``max_scan_*``), plus per layer in flight the
facts of that layer (``max_packages``/``max_owned_paths``) and one file held whole at a time
(a cataloger's ``max_bytes``, else ``max_file_bytes``; larger executables are streamed). Hard
links are never catalogued twice: a link shares its target's facts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from patchwarden.errors import UsageError

ENV_PREFIX = "PATCHWARDEN_SCAN_"  # e.g. PATCHWARDEN_SCAN_MAX_LAYER_BYTES=34359738368

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True, slots=True)
class Limits:
    max_layer_bytes: int = 16 * GiB  # decompressed bytes per layer (bomb guard)
    max_entries: int = 2_000_000  # tar entries per layer
    max_file_bytes: int = 256 * MiB  # one file handed to a cataloger; larger ones are skipped
    max_packages: int = 200_000  # packages found in one layer (tens of thousands is a big image)
    max_owned_paths: int = 2_000_000  # paths listed by OS package databases in one layer
    max_scan_packages: int = 500_000  # packages across all layers of one scan
    max_scan_owned_paths: int = 4_000_000  # owned paths across all layers of one scan

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """The defaults, with ``PATCHWARDEN_SCAN_<FIELD>`` (a positive integer) for any field:
        raise a limit for a legitimately huge image, lower one to fail fast."""
        env = os.environ if environ is None else environ
        changes: dict[str, int] = {}
        for f in fields(cls):
            name = ENV_PREFIX + f.name.upper()
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:
                value = int(raw.replace("_", ""))
            except ValueError:
                value = 0
            if value <= 0:
                raise UsageError(f"${name} must be a positive integer, not {raw!r}")
            changes[f.name] = value
        return replace(cls(), **changes) if changes else cls()
