"""Image references in Compose files: ``services.<name>.image``.

Files read: names matching Renovate's default ``(^|/)(?:docker-)?compose[^/]*\\.ya?ml$``
(``compose.yaml``, ``docker-compose.prod.yml``, ``compose-web.yaml``, ...), Swarm stack files
``docker-stack*.yml``, and any file named in ``discovery.compose_files``.

Anchors, aliases and merge keys (``<<: *defaults``) are followed; a reference that lives in an
anchor is reported once, at its definition. Values are interpolated as Compose does (``$$``,
``$V``, ``${V}``, ``${V:-d}``, ``${V-d}``, ``${V:+a}``, ``${V+a}``, ``${V:?e}``, ``${V?e}``)
with, as Compose does, the process environment first and then the ``.env`` file next to the
compose file (the environment wins). A variable that neither provides is reported as Skipped.

A service with ``build:`` and an unqualified ``image:`` (no registry host: ``myapp``,
``acme/api:dev``) names the tag of the local build, not an image pulled from a registry: it is
skipped with that reason. ``image:`` with a registry host next to ``build:`` is the published
image and is reported. Services with only ``build:`` yield nothing. Compose v1 files (services
at the top level, no ``services:`` key) are understood too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from patchwarden.refs._common import Found, YamlProblem, make_reference, yaml_problem_skip
from patchwarden.refs._nodes import (
    MappingNode,
    Node,
    ScalarNode,
    compose_documents,
    get,
    items,
    pos,
    text_of,
)
from patchwarden.refs.model import RefKind, Skipped

_NAME_RE = re.compile(r"^(?:(?:docker-)?compose[^/]*|docker-stack[^/]*)\.ya?ml$")
LOCAL_BUILD_REASON = (
    "tag of the image built by this service's build: (no registry host), not pulled from a registry"
)
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_compose_name(name: str) -> bool:
    return bool(_NAME_RE.match(name.lower()))


class _Unset(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style interpolation; raises :class:`_Unset` naming the first unset variable."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$":
            out.append(c)
            i += 1
            continue
        if i + 1 < n and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if i + 1 < n and text[i + 1] == "{":
            depth, j = 1, i + 2
            while j < n and depth:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            if depth:
                raise _Unset(f"unterminated variable reference in {text!r}")
            inner = text[i + 2 : j - 1]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?", inner, re.S)
            if not m:
                raise _Unset(f"invalid interpolation ${{{inner}}}")
            out.append(_apply(m.group(1), m.group(2), m.group(3) or "", env))
            i = j
            continue
        m = _VAR_NAME.match(text, i + 1)
        if not m:
            out.append("$")
            i += 1
            continue
        out.append(_apply(m.group(0), None, "", env))
        i = m.end()
    return "".join(out)


def _unset(name: str) -> _Unset:
    return _Unset(f"variable {name} is unset; compose interpolates it from the environment or .env")


def _apply(name: str, op: str | None, word: str, env: dict[str, str]) -> str:
    value = env.get(name)
    if op is None:
        if value is None:
            raise _unset(name)
        return value
    if op == ":-":
        return value if value else interpolate(word, env)
    if op == "-":
        return value if value is not None else interpolate(word, env)
    if op == ":+":
        return interpolate(word, env) if value else ""
    if op == "+":
        return interpolate(word, env) if value is not None else ""
    # ":?" / "?": required variable
    if (op == ":?" and not value) or value is None:
        raise _unset(name)
    return value


def parse_dotenv(text: str) -> dict[str, str]:
    """A ``.env`` file as Compose reads it: ``KEY=VALUE`` lines, ``export`` prefix, quotes,
    ``#`` comments; values may use earlier keys."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not _VAR_NAME.fullmatch(key):
            continue
        value = value.strip()
        quoted = re.match(r"'([^']*)'|\"((?:[^\"\\]|\\.)*)\"", value)
        if quoted:
            if quoted.group(1) is not None:
                value = quoted.group(1)
            else:
                value = re.sub(
                    r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), quoted.group(2)
                )
                value = _expand_quiet(value, env)
        else:
            value = re.split(r"\s+#", value, maxsplit=1)[0].strip()
            value = _expand_quiet(value, env)
        env[key] = value
    return env


def _expand_quiet(value: str, env: dict[str, str]) -> str:
    try:
        return interpolate(value, env)
    except _Unset:
        return value


def _services(doc: Node) -> list[tuple[str, Node]]:
    if not isinstance(doc, MappingNode):
        return []
    services = get(doc, "services")
    if isinstance(services, MappingNode):
        return list(items(services))
    if services is not None or get(doc, "version") is not None:
        return []
    # Compose v1: services are the top-level keys.
    return [
        (k, v)
        for k, v in items(doc)
        if isinstance(v, MappingNode)
        and not k.startswith("x-")
        and (get(v, "image") is not None or get(v, "build") is not None)
    ]


def _direct(node: MappingNode, key: str) -> bool:
    """Whether ``key`` is written in ``node`` itself (not brought in by a merge key)."""
    return any(isinstance(k, ScalarNode) and k.value == key for k, _ in node.value)


class ComposeSource:
    kind = RefKind.COMPOSE

    def claims(self, path: Path, text: str) -> bool:
        return is_compose_name(path.name)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        try:
            docs = compose_documents(text)
        except YamlProblem as problem:
            return [yaml_problem_skip(rel_path, problem, self.kind, text)]
        env = compose_environment(path)
        found: list[Found] = []
        seen: set[tuple[int, int]] = set()
        for doc in docs:
            for name, svc in _services(doc):
                value = get(svc, "image") if isinstance(svc, MappingNode) else None
                if value is None or not isinstance(svc, MappingNode):
                    continue
                line, column = pos(value)
                if (line, column) in seen:
                    continue  # the same anchor / alias, already reported
                seen.add((line, column))
                context = f"services.{name}.image"
                if not _direct(svc, "image"):
                    context += " (from a merged anchor)"
                image_text = text_of(value)
                if image_text is None:
                    shown = str(getattr(value, "value", ""))
                    reason = "image is not a string"
                    found.append(Skipped(rel_path, line, shown, reason, self.kind, column))
                    continue
                image = image_text
                if get(svc, "build") is not None and _is_local_build_tag(image, env):
                    found.append(
                        Skipped(rel_path, line, image, LOCAL_BUILD_REASON, self.kind, column)
                    )
                    continue
                try:
                    resolved = interpolate(image, env)
                except _Unset as exc:
                    if "{{" in image or "}}" in image:
                        resolved = image  # make_reference reports it as templated
                    else:
                        found.append(Skipped(rel_path, line, image, str(exc), self.kind, column))
                        continue
                found.append(
                    make_reference(
                        file=rel_path,
                        line=line,
                        column=column,
                        kind=self.kind,
                        image=image,
                        resolved=resolved,
                        context=context,
                        platform=_platform(svc, env),
                    )
                )
        return found


def compose_environment(path: Path | None) -> dict[str, str]:
    """The variables Compose interpolates with: ``.env`` next to the file, overridden by the
    process environment (Compose's precedence)."""
    env: dict[str, str] = {}
    if path is not None:
        dotenv = path.parent / ".env"
        try:
            if dotenv.is_file():
                env = parse_dotenv(dotenv.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError):
            env = {}
    env.update(os.environ)
    return env


def _is_local_build_tag(image: str, env: dict[str, str]) -> bool:
    try:
        text = interpolate(image, env)
    except _Unset:
        return False
    first, sep, _ = text.partition("/")
    has_host = bool(sep) and (any(c in first for c in ".:") or first == "localhost")
    return not has_host


def _platform(svc: Node, env: dict[str, str]) -> str | None:
    value = text_of(get(svc, "platform"))
    if value is None:
        return None
    try:
        return interpolate(value, env)
    except _Unset:
        return value
