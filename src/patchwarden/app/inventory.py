"""The ``inventory`` use case: discovery with the configured excludes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from patchwarden.config.schema import Config
from patchwarden.refs.discover import discover
from patchwarden.refs.model import Inventory


def run_inventory(
    paths: Sequence[Path], config: Config, extra_excludes: Sequence[str] = ()
) -> Inventory:
    return discover(
        paths,
        excludes=[*config.discovery.exclude, *extra_excludes],
        follow_symlinks=config.discovery.follow_symlinks,
        compose_files=config.discovery.compose_files,
    )
