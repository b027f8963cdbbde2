"""Hard caps that keep a hostile image from exhausting memory, disk or time."""

from __future__ import annotations

from dataclasses import dataclass

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True, slots=True)
class Limits:
    max_layer_bytes: int = 16 * GiB  # decompressed bytes per layer (bomb guard)
    max_entries: int = 2_000_000  # tar entries per layer
    max_file_bytes: int = 256 * MiB  # one file handed to a cataloger; larger ones are skipped
