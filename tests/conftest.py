"""Every test runs with its own home: HOME, the XDG directories, DOCKER_CONFIG and the
platform cache/data directories point into a temporary directory, and no PATCHWARDEN_*
variable of the developer's shell leaks in. So no test reads the developer's
``~/.docker/config.json``, cache or advisory index, nor writes into them.

Every test also starts with wide output (``COLUMNS=400``) and fresh CLI consoles: rich reads
the width once, when a console is first used, so without this a message's line breaks would
depend on which test ran first in the process and on how deep the temporary path is (deeper
under pytest-xdist). A test about wrapping sets its own width.

Session-scoped servers (registries, Podman) are started before this fixture applies and keep
the real environment; a test that needs a variable sets it with ``monkeypatch``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.consoles import reset_consoles

# shared fixtures that test modules name as parameters without importing them
pytest_plugins = ("testkit.servers",)

XDG = {
    "XDG_CONFIG_HOME": ".config",
    "XDG_CACHE_HOME": ".cache",
    "XDG_DATA_HOME": ".local/share",
    "XDG_STATE_HOME": ".local/state",
}


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, rel in XDG.items():
        monkeypatch.setenv(var, str(home / rel))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / ".docker"))
    for var in [v for v in os.environ if v.startswith("PATCHWARDEN_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("COLUMNS", "400")
    reset_consoles()
    yield home
    reset_consoles()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker: the long integration files first (testkit.xdist_order)."""
    if hasattr(config, "workerinput"):
        from testkit.xdist_order import long_files_first

        items[:] = long_files_first(items)
