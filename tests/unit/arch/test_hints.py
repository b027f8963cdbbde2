"""Every hint names only flags and settings that exist.

A hint that says "pass --sbom-only" to ``check`` or "raise the tag page limit" (no such
setting) sends the user looking for something that is not there. This test reads every
string literal in ``src/patchwarden`` that is passed as a hint (the second argument, or
``hint=``, of a call to an ``...Error``) or stored in a ``*HINT*`` constant, and checks:

- each ``--flag`` exists on the command the module belongs to (``cli/<command>.py``,
  ``app/<use case>/``), or, for shared modules, on at least one command;
- each ``section.key`` of patchwarden.yaml it names exists in the config schema;
- no hint tells the user to "raise" or "lower" something without naming what.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

import patchwarden
from patchwarden.cli.main import build_app
from patchwarden.config.schema import Config

ROOT = Path(patchwarden.__file__).parent
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SETTING = re.compile(r"\b([a-z_]+(?:\.(?:[a-z_]+|HOST|\{[^}]*\}|[A-Za-z0-9.:-]+?))+)\b")
#: which command(s) a module's hints are for (others: any command)
OWNER = {
    "cli/check.py": {"check"},
    "cli/scan.py": {"scan"},
    "cli/update.py": {"update"},
    "cli/inventory.py": {"inventory"},
    "cli/engine.py": {"engine update", "engine rollback", "engine history"},
    "cli/db.py": {"db update", "db status", "db import", "db show"},
    "app/scan/": {"scan"},
    "app/update/": {"update"},
    "app/check/": {"check", "update"},
    "app/live/": {"engine update", "engine rollback"},
}


def command_flags() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}

    def walk(cmd: Any, path: str) -> None:  # typer's own click (typer._click) or click
        opts = {o for p in cmd.params for o in getattr(p, "opts", []) if o.startswith("--")}
        out[path] = opts
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(build_app()), "")
    return out


def settings(model: type[BaseModel] = Config, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        keys.add(path)
        ann: Any = field.annotation
        args = getattr(ann, "__args__", ())
        inner = [a for a in (ann, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if inner:
            sub = path + (".*" if getattr(ann, "__origin__", None) is dict else "")
            keys |= settings(inner[0], sub + ".")
    return keys


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
            for v in node.values
        )
    return None


def hints() -> Iterator[tuple[str, int, str]]:
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("devtools/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found: list[ast.expr] = []
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name.endswith("Error") or name == "__init__":
                    found += node.args[1:2]
                    found += [k.value for k in node.keywords if k.arg == "hint"]
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and "HINT" in t.id for t in node.targets
            ):
                found.append(node.value)
            for expr in found:
                for part in ast.walk(expr):
                    text = _text(part) if isinstance(part, ast.expr) else None
                    if text:
                        yield rel, getattr(part, "lineno", 0), text


def _owner(rel: str) -> set[str] | None:
    for prefix, commands in OWNER.items():
        if rel.startswith(prefix):
            return commands
    return None


def _setting_ok(token: str, known: set[str]) -> bool:
    parts = token.split(".")
    if parts[0] not in {k.split(".")[0] for k in known}:
        return True  # not a setting (a file name, a module, a version)
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        starred = re.sub(r"^(registries)\.[^.]+", r"\1.*", candidate)
        if starred in known or candidate in known:
            return i == len(parts) or not re.fullmatch(r"[a-z_]+", parts[i])
    return False


def test_the_walk_finds_hints() -> None:
    found = list(hints())
    assert len(found) > 50
    assert any("--sbom-only" in text for _, _, text in found)
    assert any("registries.{}.insecure" in text for _, _, text in found)


def test_hints_name_only_existing_flags_and_settings() -> None:
    flags = command_flags()
    every = set().union(*flags.values())
    known = settings()
    problems = []
    for rel, line, text in hints():
        owner = _owner(rel)
        for flag in FLAG.findall(text):
            allowed = set().union(*(flags.get(c, set()) for c in owner)) if owner else every
            if flag not in allowed:
                where = ", ".join(sorted(owner)) if owner else "any command"
                problems.append(f"{rel}:{line}: {flag} is not an option of {where}: {text!r}")
        for token in SETTING.findall(text.replace("{}", "HOST")):
            if not _setting_ok(token, known):
                problems.append(f"{rel}:{line}: no setting {token}: {text!r}")
        if re.search(r"\b(raise|lower|increase)( the)? [a-z ]*(limit|timeout)s?\b", text):
            problems.append(f"{rel}:{line}: names no setting to change: {text!r}")
    assert problems == [], "\n".join(problems)
