"""No input makes a source raise: bad content always becomes Skipped entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden import refs
from patchwarden.refs.model import Reference, Skipped
from patchwarden.refs.registry import SOURCES

NASTY = [
    "",
    "\n\n\n",
    "---\n---\n",
    "\t\tFROM",
    "FROM ${\n",
    "FROM ${A:-${B\n",
    "FROM $\n",
    "ARG 'unbalanced\nFROM x\n",
    "ARG =1\nFROM a:${=}\n",
    "FROM a \\",
    "# escape=`\nFROM a `",
    "RUN <<EOF\nFROM never-ends\n",
    "COPY --from= /a /b\nRUN --mount=from\n",
    "services: [1, 2]\n",
    "services:\n  a: 1\n  b: [image]\n  c:\n    image: {x: 1}\n",
    "image: &a [*a]\n",
    "key: *undefined\n",
    "a: b: c\n",
    "{{- if .Values.enabled }}\napiVersion: v1\nkind: Pod\n{{- end }}\n",
    "apiVersion: v1\nkind: Pod\nspec: [1]\n",
    "apiVersion: v1\nkind: Deployment\nspec:\n  template: {spec: {containers: {a: 1}}}\n",
    "apiVersion: v1\nkind: List\nitems: {a: 1}\n",
    "images: {a: 1}\n",
    "images:\n- newTag: 1.0\n",
    "image:\n  repository: [1]\n",
    "image:\n  repository: ''\n  tag: x\n",
    "x: !!binary aGVsbG8=\nimage: !custom nginx\n",
    "\x00\x01\x02",
    "a:\n\t- tab indented\n",
    "a: 'unterminated\n",
    "dup: 1\ndup: 2\nimage: nginx:1\n",
]


@pytest.mark.parametrize("text", NASTY)
@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.kind.value)
def test_sources_never_raise(source: refs.ReferenceSource, text: str) -> None:
    found = source.extract("f", text, path=Path("/nonexistent/f"))
    for item in found:
        assert isinstance(item, Reference | Skipped)
        if isinstance(item, Skipped):
            assert item.reason
        assert item.line >= 0


def test_public_api() -> None:
    assert refs.discover is not None
    assert {"discover", "Inventory", "Reference", "Skipped", "RefKind"} <= set(refs.__all__)
