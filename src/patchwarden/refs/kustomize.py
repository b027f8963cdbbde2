"""Image overrides in ``kustomization.yaml`` / ``kustomization.yml`` / ``Kustomization``.

Each ``images:`` entry with ``newName``, ``newTag`` or ``digest`` is the image the build will
use: ``(newName or name)[:newTag][@digest]``. The Reference is positioned at the first field
that changes the image (``newName``, else ``newTag``, else ``digest``); ``parts`` holds every
field's position. An entry with only ``name`` changes nothing and yields nothing.
"""

from __future__ import annotations

from pathlib import Path

from patchwarden.refs._common import (
    Found,
    YamlProblem,
    display_pos,
    is_map,
    is_seq,
    load_or_skip,
    make_reference,
    scalar_text,
    value_pos,
)
from patchwarden.refs.model import RefKind

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


class KustomizeSource:
    kind = RefKind.KUSTOMIZE

    def claims(self, path: Path, text: str) -> bool:
        return path.name in KUSTOMIZATION_NAMES

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        docs, problems = load_or_skip(rel_path, text, self.kind)
        if problems:
            return problems
        lines = text.splitlines()
        found: list[Found] = []
        for doc in docs:
            images = doc.get("images") if is_map(doc) else None
            if images is None or not is_seq(images):
                continue
            for i, entry in enumerate(images):
                if not is_map(entry):
                    continue
                texts: dict[str, str] = {}
                parts: list[tuple[str, int, int]] = []
                for field in ("name", "newName", "newTag", "digest"):
                    if field in entry:
                        pos = value_pos(entry, field)
                        texts[field] = scalar_text(entry[field], lines, pos) or ""
                        parts.append((field, *display_pos(pos)))
                changing = [f for f in ("newName", "newTag", "digest") if texts.get(f)]
                if not changing:
                    continue
                name = texts.get("newName") or texts.get("name", "")
                image = name
                if texts.get("newTag"):
                    image += f":{texts['newTag']}"
                if texts.get("digest"):
                    image += f"@{texts['digest']}"
                line, column = display_pos(value_pos(entry, changing[0]))
                found.append(
                    make_reference(
                        file=rel_path,
                        line=line,
                        column=column,
                        kind=self.kind,
                        image=image,
                        context=f"images[{i}] ({texts.get('name', '')})",
                        parts=tuple(parts),
                    )
                )
        found.extend(_inline_patches(rel_path, text))
        return found


def _inline_patches(rel_path: str, text: str) -> list[Found]:
    """Images in inline patches (``patches[].patch: |`` and ``patchesStrategicMerge`` strings),
    read as the Kubernetes documents they are, at their place in this file."""
    if "patch" not in text or "image" not in text:
        return []
    from patchwarden.refs._nodes import SequenceNode, compose_documents, get
    from patchwarden.refs.kubernetes import KubernetesSource, embedded_documents

    try:
        roots = compose_documents(text)
    except YamlProblem:
        return []  # already reported by the round-trip reader
    walker = KubernetesSource().for_text(text)
    lines = text.splitlines()
    found: list[Found] = []
    for root in roots:
        for key in ("patches", "patchesStrategicMerge"):
            listed = get(root, key)
            if not isinstance(listed, SequenceNode):
                continue
            for i, entry in enumerate(listed.value):
                scalar = get(entry, "patch") if key == "patches" else entry
                if scalar is None:
                    continue
                for doc in embedded_documents(scalar, lines):
                    walker._document(rel_path, doc, f"{key}[{i}] ", found)
    return found
