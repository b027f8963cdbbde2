"""Image references in Dev Container configurations (``devcontainer.json``,
``.devcontainer.json``, ``.devcontainer/<name>/devcontainer.json``).

The file is JSON with comments (JSONC). Its top-level ``"image"`` is the container the editor
starts. ``features`` keys (``ghcr.io/devcontainers/features/node:1``) are OCI artifacts
installed into that container, not container images: each is Skipped with that reason.
``build.dockerfile`` and ``dockerComposeFile`` name files that are read on their own.
"""

from __future__ import annotations

import re
from pathlib import Path

from patchwarden.refs._common import Found, make_reference
from patchwarden.refs.model import RefKind, Skipped

FEATURE_REASON = (
    "Dev Container feature (an OCI artifact installed into the container), not an image"
)
_STRING = r'"((?:[^"\\\n]|\\.)*)"'
# Comments and strings, so that keys inside comments are not read.
_TOKENS = re.compile(r"//[^\n]*|/\*.*?\*/|" + _STRING + r"|[{}\[\]:,]", re.S)


def is_devcontainer(path: Path) -> bool:
    return path.name in ("devcontainer.json", ".devcontainer.json")


class DevcontainerSource:
    kind = RefKind.DEVCONTAINER

    def claims(self, path: Path, text: str) -> bool:
        return is_devcontainer(path)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        found: list[Found] = []
        depth = 0
        in_features = -1  # depth of the features object, -1 outside it
        last_string: tuple[str, int] | None = None
        expect_value_of: str | None = None
        for m in _TOKENS.finditer(text):
            tok = m.group(0)
            if tok.startswith(("//", "/*")):
                continue
            if tok in "{[":
                if expect_value_of == "features" and tok == "{" and depth == 1:
                    in_features = depth + 1
                depth += 1
                expect_value_of = None
                continue
            if tok in "}]":
                if depth == in_features:
                    in_features = -1
                depth -= 1
                continue
            if tok == ":":
                expect_value_of = last_string[0] if last_string else None
                if depth == in_features and last_string is not None:
                    found.append(self._feature(rel_path, text, *last_string))
                continue
            if tok == ",":
                expect_value_of = None
                continue
            value = m.group(1)
            if expect_value_of == "image" and depth == 1:
                line, column = _position(text, m.start(1))
                found.append(
                    make_reference(
                        file=rel_path,
                        line=line,
                        column=column,
                        kind=self.kind,
                        image=value,
                        context="image",
                    )
                )
            expect_value_of = None
            last_string = (value, m.start(1))
        return found

    def _feature(self, rel_path: str, text: str, key: str, offset: int) -> Found:
        line, column = _position(text, offset)
        return Skipped(rel_path, line, key, FEATURE_REASON, self.kind, column)


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column
