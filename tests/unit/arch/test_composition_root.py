"""`app/wiring.py` is the only place that builds concrete objects: no module of `cli/` calls the
constructor of a registry client, checker, engine client, forge, store, advisory index or a
use case's service object (issue #9's done-means, as a test instead of a grep)."""

from __future__ import annotations

import ast
from pathlib import Path

import patchwarden

CLI = Path(patchwarden.__file__).parent / "cli"
BUILT_IN_WIRING = {
    "RegistryClient",
    "CachingRegistry",
    "Checker",
    "EngineClient",
    "connect",
    "GitHubForge",
    "GitLabForge",
    "GiteaForge",
    "open_store",
    "open_existing_store",
    "Store",
    "AdvisoryIndex",
    "Promoter",
    "PromotionLog",
    "LiveUpdater",
    "Updater",
    "Verifier",
    "Rebuilder",
    "Patcher",
    "Rollouts",
}


def _called_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    return f.attr if isinstance(f, ast.Attribute) else None


def test_cli_constructs_nothing_that_wiring_builds() -> None:
    found = [
        f"{path.name}:{node.lineno}: {name}(...)"
        for path in sorted(CLI.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and (name := _called_name(node)) in BUILT_IN_WIRING
    ]
    assert not found, "build these in app/wiring.py instead:\n" + "\n".join(found)


def test_the_check_sees_a_constructor_call() -> None:
    """The walk is not vacuous: the same walk over wiring.py finds the constructors it calls."""
    wiring = CLI.parent / "app" / "wiring.py"
    calls = {
        _called_name(n)
        for n in ast.walk(ast.parse(wiring.read_text(encoding="utf-8")))
        if isinstance(n, ast.Call)
    }
    assert {"RegistryClient", "Promoter", "AdvisoryIndex"} <= calls
