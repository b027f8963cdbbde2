"""Minimal text edits for one image reference: the tag and digest, nothing else.

An :class:`Edit` replaces ``old`` at an exact (line, column) — or inserts a new line after
``line`` — in the file's text as it is on disk (line endings, quoting, comments untouched).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from patchwarden.refs.model import Reference, RefKind


class CannotEdit(Exception):
    """This reference cannot be rewritten safely (the reason is user-facing)."""


@dataclass(frozen=True, slots=True)
class Edit:
    file: str
    line: int  # 1-based
    column: int  # 1-based start of ``old`` (after any opening quote); 0 with insert_after
    old: str
    new: str
    insert_after: bool = False  # insert ``new`` as a whole line after ``line``


@dataclass(frozen=True, slots=True)
class Target:
    tag: str | None  # the tag to write (None: keep the reference without a tag)
    digest: str | None  # write/refresh ``@digest`` (None: remove a pin only if drop_digest)
    drop_digest: bool = False


_PLAIN_END = re.compile(r"\s+#|\s*$")
_YAML_NON_STRING = re.compile(r"[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|true|false|null|~")


def scalar_at(line_text: str, column: int) -> tuple[int, str]:
    """(0-based start, text) of the YAML/Dockerfile scalar starting at 1-based ``column``.

    A quoted scalar's text excludes its quotes; a plain scalar ends before `` #`` or the end.
    """
    i = column - 1
    body = line_text.rstrip("\r\n")
    if i < 0 or i > len(body):
        raise CannotEdit(f"column {column} is outside line {body!r}")
    if i < len(body) and body[i] in "\"'":
        quote = body[i]
        end = body.find(quote, i + 1)
        if end < 0:
            raise CannotEdit(f"unterminated quoted value in {body!r}")
        return i + 1, body[i + 1 : end]
    m = _PLAIN_END.search(body, i)
    end = m.start() if m else len(body)
    return i, body[i:end]


def split_written(text: str) -> tuple[str, str | None, str | None]:
    """``name[:tag][@digest]`` as written -> (name, tag, digest), keeping the name's spelling."""
    rest, _, digest = text.partition("@")
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        return rest[:colon], rest[colon + 1 :], digest or None
    return rest, None, digest or None


def join_written(name: str, tag: str | None, digest: str | None) -> str:
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def plan(ref: Reference, target: Target, lines: list[str]) -> list[Edit]:
    """Edits that move ``ref`` (written without variables) to ``target``; raises
    :class:`CannotEdit` with the reason. References written with variables are planned by
    :func:`patchwarden.apply.variables.plan_variables` (:func:`patchwarden.apply.rewrite`
    chooses)."""
    if "{{" in ref.image:
        raise CannotEdit(f"{ref.image!r} is a template; change the value it is rendered from")
    fields = {name: (line, col) for name, line, col in ref.parts}
    if ref.kind in (RefKind.HELM, RefKind.KUSTOMIZE) and (
        "tag" in fields or "newTag" in fields or "repository" in fields
    ):
        return _plan_map(ref, target, lines, fields)
    line, column = fields.get("image", (ref.line, ref.column))
    return [_scalar_edit(ref, target, lines, line, column)]


def _scalar_edit(ref: Reference, target: Target, lines: list[str], line: int, column: int) -> Edit:
    body = lines[line - 1]
    start = column - 1
    if 0 <= start < len(body) and body[start] in "\"'":
        start += 1
    text = ref.image
    if not body.startswith(text, start):
        found = body[max(column - 1, 0) :].strip()
        raise CannotEdit(
            f"{ref.file}:{line} no longer reads {text!r} (found {found!r}); re-run on the "
            "current file"
        )
    name, tag, digest = split_written(text)
    new_digest = None if target.drop_digest else (target.digest or digest)
    new = join_written(name, target.tag if target.tag is not None else tag, new_digest)
    return Edit(ref.file, line, start + 1, text, new)


def _plan_map(
    ref: Reference, target: Target, lines: list[str], fields: dict[str, tuple[int, int]]
) -> list[Edit]:
    tag_key = "newTag" if ref.kind == RefKind.KUSTOMIZE else "tag"
    edits: list[Edit] = []
    anchor = fields.get(tag_key) or fields.get("newName") or fields.get("repository")
    assert anchor is not None  # noqa: S101 - type narrowing; the caller checked it
    if target.tag is not None and target.tag != ref.ref.tag:
        if tag_key in fields:
            edits.append(_value_edit(ref.file, lines, *fields[tag_key], target.tag))
        else:
            edits.append(_insert(ref.file, lines, anchor[0], tag_key, target.tag))
    if target.digest and target.digest != ref.ref.digest:
        if "digest" in fields:
            edits.append(_value_edit(ref.file, lines, *fields["digest"], target.digest))
        else:
            edits.append(_insert(ref.file, lines, anchor[0], "digest", target.digest))
    elif target.drop_digest and "digest" in fields:
        edits.append(_value_edit(ref.file, lines, *fields["digest"], ""))
    return edits


def _value_edit(file: str, lines: list[str], line: int, column: int, value: str) -> Edit:
    start, text = scalar_at(lines[line - 1], column)
    body = lines[line - 1]
    quoted = start > 0 and body[start - 1] in "\"'"
    new = value if quoted or not _needs_quotes(value) else f'"{value}"'
    return Edit(file, line, start + 1, text, new)


def _needs_quotes(value: str) -> bool:
    """A plain YAML scalar that would not read back as the same string (e.g. 1.20, 7, true)."""
    return bool(
        re.fullmatch(r"[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|true|false|null|~", value)
    )


def _insert(file: str, lines: list[str], after: int, key: str, value: str) -> Edit:
    body = lines[after - 1]
    indent = re.match(r"\s*(?:-\s+)?", body)
    lead = " " * len(indent.group(0)) if indent else ""
    text = f"{lead}{key}: {value}"
    return Edit(file, after, 0, "", text, insert_after=True)
