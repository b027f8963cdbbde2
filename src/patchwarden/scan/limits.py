"""Hard caps that keep a hostile image from exhausting memory, disk or time.

Memory per scan is bounded by: the facts kept (``max_scan_*``), plus per layer in flight the
facts of that layer (``max_packages``/``max_owned_paths``) and one file held whole at a time
(a cataloger's ``max_bytes``, else ``max_file_bytes``; larger executables are streamed). Hard
links are never catalogued twice: a link shares its target's facts.
"""

from __future__ import annotations

from dataclasses import dataclass

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
