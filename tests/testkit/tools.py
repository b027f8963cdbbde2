"""External tools the tests run against (registry, skopeo, rpm, go, ...)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any, NoReturn

import pytest


def require_tool(name: str) -> str:
    """The path of tool ``name``. Missing: the test fails under ``CI=true`` (never a vacuous
    green; scripts/install-system-deps.sh installs them) and is skipped elsewhere."""
    path = shutil.which(name)
    if path is not None:
        return path
    unavailable(f"required tool {name!r} is not installed (see scripts/install-system-deps.sh)")


def unavailable(why: str) -> NoReturn:
    """A server, tool or fixture the test needs is missing: fail under ``CI=true`` (never a
    vacuous green), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


def image_config(ref: str) -> dict[str, Any]:
    """The image config of ``docker://REF`` as skopeo (an independent client) reads it."""
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--config", f"docker://{ref}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(out.stdout))
