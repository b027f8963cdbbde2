"""Image references in Kubernetes manifests.

A YAML file is claimed when it has top-level ``apiVersion:`` and ``kind:`` keys (checked on the
text, so a malformed manifest is still claimed and reported). Every document is read; workload
kinds give their pod spec's ``containers``, ``initContainers`` and ``ephemeralContainers``;
``kind: List`` is read item by item; other kinds yield nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from patchwarden.refs._common import (
    YAML_SUFFIXES,
    Found,
    display_pos,
    is_map,
    is_seq,
    load_or_skip,
    make_reference,
    non_string_image,
    value_pos,
)
from patchwarden.refs.model import RefKind

_API_VERSION = re.compile(r"^apiVersion\s*:", re.M)
_KIND = re.compile(r"^kind\s*:", re.M)

# kind -> path (keys) from the document to the pod spec
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")


def looks_like_manifest(path: Path, text: str) -> bool:
    return (
        path.name.lower().endswith(YAML_SUFFIXES)
        and bool(_API_VERSION.search(text))
        and bool(_KIND.search(text))
    )


class KubernetesSource:
    kind = RefKind.KUBERNETES

    def claims(self, path: Path, text: str) -> bool:
        return looks_like_manifest(path, text)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        docs, problems = load_or_skip(rel_path, text, self.kind)
        if problems:
            return problems
        lines = text.splitlines()
        found: list[Found] = []
        for doc in docs:
            self._document(rel_path, lines, doc, "", found)
        return found

    def _document(
        self, rel_path: str, lines: list[str], doc: Any, prefix: str, found: list[Found]
    ) -> None:
        if not is_map(doc):
            return
        kind = doc.get("kind")
        if kind == "List" or (isinstance(kind, str) and kind.endswith("List")):
            items = doc.get("items")
            if is_seq(items):
                for i, item in enumerate(items):
                    self._document(rel_path, lines, item, f"{prefix}items[{i}] ", found)
            return
        if not isinstance(kind, str) or kind not in POD_SPEC_PATHS:
            return
        meta = doc.get("metadata")
        name = meta.get("name") if is_map(meta) else None
        owner = f"{kind}/{name}" if name is not None else kind
        spec: Any = doc
        for key in POD_SPEC_PATHS[kind]:
            spec = spec.get(key) if is_map(spec) else None
        if not is_map(spec):
            return
        spec_path = ".".join(POD_SPEC_PATHS[kind])
        for field in CONTAINER_FIELDS:
            containers = spec.get(field)
            if not is_seq(containers):
                continue
            for i, container in enumerate(containers):
                if not is_map(container) or "image" not in container:
                    continue
                cname = container.get("name")
                context = f"{prefix}{owner} {spec_path}.{field}[{i}]"
                if cname is not None:
                    context += f" ({cname})"
                pos = value_pos(container, "image")
                line, column = display_pos(pos)
                value = container["image"]
                bad = non_string_image(rel_path, line, column, self.kind, value)
                if bad is not None:
                    found.append(bad)
                    continue
                image = str(value)
                found.append(
                    make_reference(
                        file=rel_path,
                        line=line,
                        column=column,
                        kind=self.kind,
                        image=image,
                        context=context,
                    )
                )
