"""Image references in Kubernetes manifests (YAML and JSON), built-in kinds and custom resources.

A YAML file is claimed when it has top-level ``apiVersion:`` and ``kind:`` keys (checked on the
text, so a malformed manifest is still claimed and reported); a ``.json`` file when it has
``"apiVersion"`` and ``"kind"`` keys. Every document is walked as a whole, whatever its kind:

* every ``image`` key whose value is a string, wherever it sits: the ``containers``,
  ``initContainers`` and ``ephemeralContainers`` of any pod spec at any path (Deployments,
  CronJobs, Argo Rollouts ``Rollout``/``AnalysisTemplate``/``Experiment``, OLM
  ``ClusterServiceVersion`` install deployments, ...), and the image fields that custom
  resources name ``image`` (OLM ``spec.relatedImages[].image``, operator-sdk scorecard
  ``stages[].tests[].image``, Tekton ``steps[].image``, Argo Workflows ``container.image``,
  KubeVirt ``containerDisk.image``, Prometheus-operator ``spec.image``);
* the OLM ``metadata.annotations.containerImage`` annotation;
* ``kind: List`` (and ``*List``) items are read object by object.

``CustomResourceDefinition`` documents (schemas) are not parsed, nor is any document whose
text has no ``image`` key: a 3 MB file of CRD schemas costs a text search, not a parse.
Documents are parsed one by one, so one malformed document does not hide the others.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from patchwarden.refs._common import (
    EMPTY_REASON,
    YAML_SUFFIXES,
    Found,
    display_pos,
    is_map,
    is_seq,
    load_wanted_documents,
    make_reference,
    non_string_image,
    value_pos,
)
from patchwarden.refs.model import RefKind, Skipped

_API_VERSION = re.compile(r"^apiVersion\s*:", re.M)
_KIND = re.compile(r"^kind\s*:", re.M)
_JSON_API_VERSION = re.compile(r'"apiVersion"\s*:')
_JSON_KIND = re.compile(r'"kind"\s*:')
_IMAGE_KEY = re.compile(r"""(?:^|[\s{,])["']?(?:image|containerImage)["']?[ \t]*:""")
_CRD_KIND = re.compile(r"^kind:[ \t]*[\"']?CustomResourceDefinition\b", re.M)
_JSON_IMAGE = re.compile(r'"(image|containerImage)"\s*:\s*"((?:[^"\\]|\\.)*)"')
NOT_STRING_MAP_REASON = (
    "image is a map in this custom resource (registry/repository/tag fields); not read"
)
# Kinds that never run an image, though their text may say "image" (schemas, free-form data).
SKIPPED_KINDS = frozenset({"CustomResourceDefinition", "ConfigMap", "Secret"})


def looks_like_manifest(path: Path, text: str) -> bool:
    name = path.name.lower()
    if name.endswith(YAML_SUFFIXES):
        return bool(_API_VERSION.search(text)) and bool(_KIND.search(text))
    if name.endswith(".json"):
        return bool(_JSON_API_VERSION.search(text)) and bool(_JSON_KIND.search(text))
    return False


def may_hold_image(chunk: str) -> bool:
    """The cheap text test deciding whether a YAML document is worth parsing."""
    return bool(_IMAGE_KEY.search(chunk)) and not _CRD_KIND.search(chunk)


class KubernetesSource:
    kind = RefKind.KUBERNETES

    def claims(self, path: Path, text: str) -> bool:
        return looks_like_manifest(path, text)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        if rel_path.lower().endswith(".json"):
            return self._json(rel_path, text)
        docs, problems = load_wanted_documents(rel_path, text, self.kind, may_hold_image)
        lines = text.splitlines()
        found: list[Found] = list(problems)
        for doc in docs:
            self._document(rel_path, lines, doc, "", found)
        return sorted(found, key=lambda f: (f.line, f.column))

    def _document(
        self, rel_path: str, lines: list[str], doc: Any, prefix: str, found: list[Found]
    ) -> None:
        if not is_map(doc):
            return
        kind = doc.get("kind")
        if not isinstance(kind, str) or kind in SKIPPED_KINDS:
            return
        if kind == "List" or kind.endswith("List"):
            items = doc.get("items")
            if is_seq(items):
                for i, item in enumerate(items):
                    self._document(rel_path, lines, item, f"{prefix}items[{i}] ", found)
            return
        meta = doc.get("metadata")
        name = meta.get("name") if is_map(meta) else None
        owner = f"{prefix}{kind}/{name}" if name is not None else f"{prefix}{kind}"
        for key, value in doc.items():
            if key in ("apiVersion", "kind"):
                continue
            if key == "metadata" and is_map(value):
                self._annotations(rel_path, value, owner, found)
                continue
            self._walk(rel_path, value, owner, str(key), found, set())

    def _walk(
        self, rel_path: str, node: Any, owner: str, where: str, found: list[Found], seen: set[int]
    ) -> None:
        if id(node) in seen:
            return  # an alias of a node already visited: reported once, at its anchor
        if is_seq(node):
            seen.add(id(node))
            for i, item in enumerate(node):
                self._walk(rel_path, item, owner, f"{where}[{i}]", found, seen)
            return
        if not is_map(node):
            return
        seen.add(id(node))
        if "image" in node and not is_seq(node["image"]):
            self._image(rel_path, node, owner, where, found)
        for key, value in node.items():
            if key != "image" and (is_map(value) or is_seq(value)):
                self._walk(rel_path, value, owner, f"{where}.{key}", found, seen)

    def _image(self, rel_path: str, node: Any, owner: str, where: str, found: list[Found]) -> None:
        line, column = display_pos(value_pos(node, "image"))
        value = node["image"]
        if is_map(value):
            if "repository" in value or "registry" in value:
                text = f"{where}.image (map)"
                found.append(
                    Skipped(rel_path, line, text, NOT_STRING_MAP_REASON, self.kind, column)
                )
            return
        if value is None:
            found.append(Skipped(rel_path, line, "", EMPTY_REASON, self.kind, column))
            return
        bad = non_string_image(rel_path, line, column, self.kind, value)
        if bad is not None:
            found.append(bad)
            return
        cname = node.get("name")
        context = f"{owner} {where}"
        if isinstance(cname, str):
            context += f" ({cname})"
        found.append(
            make_reference(
                file=rel_path,
                line=line,
                column=column,
                kind=self.kind,
                image=str(value),
                context=context,
            )
        )

    def _annotations(self, rel_path: str, meta: Any, owner: str, found: list[Found]) -> None:
        notes = meta.get("annotations")
        if not is_map(notes) or not isinstance(notes.get("containerImage"), str):
            return
        line, column = display_pos(value_pos(notes, "containerImage"))
        found.append(
            make_reference(
                file=rel_path,
                line=line,
                column=column,
                kind=self.kind,
                image=notes["containerImage"],
                context=f"{owner} metadata.annotations.containerImage",
            )
        )

    def _json(self, rel_path: str, text: str) -> list[Found]:
        """JSON manifests: every ``"image": "<string>"`` (and ``containerImage``), by position.

        The file must be valid JSON; CRD documents are skipped like in YAML."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            return [Skipped(rel_path, 1, "", f"malformed JSON: {exc}", self.kind)]
        if isinstance(data, dict) and data.get("kind") in SKIPPED_KINDS:
            return []
        found: list[Found] = []
        starts = [0, *(m.end() for m in re.finditer("\n", text))]
        for m in _JSON_IMAGE.finditer(text):
            offset = m.start(2)
            line = _line_of(starts, offset)
            column = offset - starts[line - 1]  # 1-based column of the opening quote
            try:
                image = json.loads(f'"{m.group(2)}"')
            except ValueError:
                continue
            found.append(
                make_reference(
                    file=rel_path,
                    line=line,
                    column=column,
                    kind=self.kind,
                    image=image,
                    context=f"JSON manifest {m.group(1)}",
                )
            )
        return found


def _line_of(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid
    return lo + 1
