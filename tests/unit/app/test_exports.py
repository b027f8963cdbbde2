"""Each use-case package names its public API once: ``__all__``, the lazily imported table
(``EXPORTS``) and the names the type checker sees (the ``TYPE_CHECKING`` imports) agree, and
every name resolves to the object its module defines."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

PACKAGES = ["check", "scan", "update", "live", "rollout"]


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_agree_and_resolve(name: str) -> None:
    package = importlib.import_module(f"patchwarden.app.{name}")
    tree = ast.parse(inspect.getsource(package))
    typed = {
        f"{imp.module}:{alias.name}"
        for node in tree.body
        if isinstance(node, ast.If)
        for imp in node.body
        if isinstance(imp, ast.ImportFrom)
        for alias in imp.names
    }
    table = {
        f"{package.__name__}.{module}:{n}"
        for module, names in package.EXPORTS.items()
        for n in names
    }
    assert typed == table
    assert sorted(package.__all__) == sorted(n.split(":")[1] for n in table)
    for entry in table:
        module, attr = entry.split(":")
        assert getattr(package, attr) is getattr(importlib.import_module(module), attr)


def test_unknown_name_is_an_attribute_error() -> None:
    from patchwarden.app import check

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = check.Nope
