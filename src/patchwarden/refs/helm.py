"""Image references in Helm values files.

Claimed files: ``values.yaml``, ``values-*.yaml``, ``values.*.yaml`` (and ``.yml``) anywhere,
and any ``values*`` YAML file next to a ``Chart.yaml``.

Two shapes are recognised anywhere in the tree:

* an *image map*: a mapping with a ``repository`` string (or an ``image`` string next to
  ``registry``/``tag``/``digest``), optionally ``registry``, ``tag``, ``digest``. It gives one
  Reference whose ``image`` is the joined text ``registry/repository:tag@digest`` (the way
  charts conventionally template it), positioned at the ``repository`` value, with every
  field's position in ``parts``. Tags written as numbers (``tag: 1.20``) keep their source
  spelling. A map without a tag or digest is Skipped: the chart falls back to
  ``.Chart.AppVersion``, which is not in the values file.
* an ``image: <string>`` entry (``image: nginx:1.25``).

``repository`` values that are URLs (``https://...``, e.g. a git repository) are not images;
an empty ``repository: ""`` is not an image map either (its children are still read), and is
Skipped when it sits next to ``tag``/``registry`` (the repository is set at install time).

Overlays (``values-prod.yaml``, ``values.staging.yaml``) next to a ``values.yaml`` often set
only ``tag:`` (or ``digest:``) of an image map: such a map is resolved against the map at the
same key path in ``values.yaml`` (registry and repository from there, tag and digest from the
overlay); the Reference points at the overlay's fields, which is what ``update`` edits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from patchwarden.refs._common import (
    YAML_SUFFIXES,
    Found,
    YamlProblem,
    display_pos,
    is_map,
    is_seq,
    load_or_skip,
    load_yaml_documents,
    make_reference,
    scalar_text,
    value_pos,
)
from patchwarden.refs.model import RefKind, Skipped

_VALUES_NAME = re.compile(r"^values(?:[-.][^/]+)?\.ya?ml$")
EMPTY_TAG_REASON = "tag is empty (the chart falls back to .Chart.AppVersion)"
NO_TAG_REASON = "tag is not set (the chart falls back to .Chart.AppVersion)"
EMPTY_REPOSITORY_REASON = "repository is empty (set at install time)"
NO_BASE_REASON = "tag without a repository, and no image map at this path in values.yaml"
BASE_VALUES = "values.yaml"


def is_values_file(path: Path) -> bool:
    name = path.name.lower()
    if _VALUES_NAME.match(name):
        return True
    if name.startswith("values") and name.endswith(YAML_SUFFIXES):
        try:
            return (path.parent / "Chart.yaml").is_file()
        except OSError:
            return False
    return False


def _base_values(path: Path | None) -> Any:
    """The first document of ``values.yaml`` next to an overlay, or None."""
    if path is None or path.name.lower() in ("values.yaml", "values.yml"):
        return None
    base = path.parent / BASE_VALUES
    try:
        if not base.is_file():
            return None
        docs = load_yaml_documents(base.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, YamlProblem):
        return None
    return docs[0] if docs and is_map(docs[0]) else None


class HelmSource:
    kind = RefKind.HELM

    def claims(self, path: Path, text: str) -> bool:
        return is_values_file(path)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        docs, problems = load_or_skip(rel_path, text, self.kind)
        if problems:
            return problems
        lines = text.splitlines()
        found: list[Found] = []
        seen: set[int] = set()
        base = _base_values(path)
        for doc in docs:
            self._walk(rel_path, lines, doc, "", found, seen, base)
        return found

    def _walk(
        self,
        rel_path: str,
        lines: list[str],
        node: Any,
        where: str,
        found: list[Found],
        seen: set[int],
        base: Any = None,
    ) -> None:
        if id(node) in seen:
            return  # an alias of a node already visited: report it once, at its anchor
        if is_seq(node):
            seen.add(id(node))
            for i, item in enumerate(node):
                sub = base[i] if is_seq(base) and i < len(base) else None
                self._walk(rel_path, lines, item, f"{where}[{i}]", found, seen, sub)
            return
        if not is_map(node):
            return
        seen.add(id(node))
        name_key = self._name_key(node)
        if name_key is not None:
            result = self._image_map(rel_path, lines, node, name_key, where)
            if result is not None:
                found.append(result)
                return
        elif node.get("repository") == "" and any(k in node for k in ("tag", "registry")):
            line, column = display_pos(value_pos(node, "repository"))
            text = f"{where}.repository" if where else "repository"
            found.append(Skipped(rel_path, line, text, EMPTY_REPOSITORY_REASON, self.kind, column))
        elif base is not None and ("tag" in node or "digest" in node) and "image" not in node:
            found.append(self._overlay(rel_path, lines, node, base, where))
            return
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "image" and not is_map(value) and not is_seq(value):
                pos = value_pos(node, key)
                line, column = display_pos(pos)
                image = scalar_text(value, lines, pos)
                if not image:  # null / "" means "not set here": not a reference
                    if image is None and value is not None:
                        found.append(
                            Skipped(
                                rel_path,
                                line,
                                str(value),
                                "image is not a string",
                                self.kind,
                                column,
                            )
                        )
                    continue
                found.append(
                    make_reference(
                        file=rel_path,
                        line=line,
                        column=column,
                        kind=self.kind,
                        image=image,
                        context=path,
                    )
                )
            else:
                sub = base.get(key) if is_map(base) else None
                self._walk(rel_path, lines, value, path, found, seen, sub)

    def _overlay(self, rel_path: str, lines: list[str], node: Any, base: Any, where: str) -> Found:
        """A tag-only map of an overlay, completed from the same path in ``values.yaml``."""
        anchor = "tag" if "tag" in node else "digest"
        line, column = display_pos(value_pos(node, anchor))
        base_key = self._name_key(base) if is_map(base) else None
        if base_key is None:
            text = f"{where}.{anchor}" if where else anchor
            return Skipped(rel_path, line, text, NO_BASE_REASON, self.kind, column)
        texts = {f: str(base[f]) for f in ("registry", base_key) if isinstance(base.get(f), str)}
        parts: list[tuple[str, int, int]] = []
        for field in ("tag", "digest"):
            if field in node:
                pos = value_pos(node, field)
                texts[field] = scalar_text(node[field], lines, pos) or ""
                parts.append((field, *display_pos(pos)))
        return self._joined(rel_path, texts, base_key, node, line, column, where, parts, base)

    @staticmethod
    def _name_key(node: Any) -> str | None:
        repo = node.get("repository")
        if isinstance(repo, str):
            return None if "://" in repo or not repo.strip() else "repository"
        image = node.get("image")
        if isinstance(image, str) and any(k in node for k in ("registry", "tag", "digest")):
            return "image"
        return None

    def _image_map(
        self, rel_path: str, lines: list[str], node: Any, name_key: str, where: str
    ) -> Found | None:
        texts: dict[str, str] = {}
        parts: list[tuple[str, int, int]] = []
        for field in ("registry", name_key, "tag", "digest"):
            if field not in node:
                continue
            pos = value_pos(node, field)
            text = scalar_text(node[field], lines, pos)
            texts[field] = text or ""
            line, column = display_pos(pos)
            parts.append((field, line, column))
        line, column = display_pos(value_pos(node, name_key))
        return self._joined(rel_path, texts, name_key, node, line, column, where, parts)

    def _joined(
        self,
        rel_path: str,
        texts: dict[str, str],
        name_key: str,
        node: Any,
        line: int,
        column: int,
        where: str,
        parts: list[tuple[str, int, int]],
        base: Any = None,
    ) -> Found:
        name = texts[name_key]
        registry = texts.get("registry", "")
        tag, digest = texts.get("tag", ""), texts.get("digest", "")
        joined = f"{registry.rstrip('/')}/{name}" if registry else name
        if tag:
            joined += f":{tag}"
        if digest:
            joined += f"@{digest}"
        context = f"{where}.{name_key}" if where else name_key
        if base is not None:
            context = f"{where} (repository from {BASE_VALUES})"
        templated = any("{{" in s or "}}" in s for s in texts.values())
        if not templated and not tag and not digest:
            reason = EMPTY_TAG_REASON if "tag" in node or "tag" in (base or {}) else NO_TAG_REASON
            return Skipped(rel_path, line, joined, reason, self.kind, column)
        return make_reference(
            file=rel_path,
            line=line,
            column=column,
            kind=self.kind,
            image=joined,
            context=context,
            parts=tuple(parts),
        )
