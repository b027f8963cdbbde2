"""Helpers shared by the reference sources: YAML loading with positions, raw scalar text,
templating detection and turning a text into a Reference or a Skipped."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from patchwarden.core.ref import parse_reference
from patchwarden.errors import ReferenceFormatError
from patchwarden.refs.model import Reference, RefKind, Skipped

TEMPLATED_REASON = "templated value ({{ ... }}) cannot be resolved statically"
EMPTY_REASON = "image is empty (set elsewhere at deploy time)"
VARIABLE_REASON = (
    "built from a variable that a tool substitutes before use ($VAR / ${VAR}); "
    "its value is not in this file"
)
YAML_SUFFIXES = (".yaml", ".yml")

Found = Reference | Skipped


def is_templated(text: str) -> bool:
    return "{{" in text or "}}" in text


def make_reference(
    *,
    file: str,
    line: int,
    column: int,
    kind: RefKind,
    image: str,
    resolved: str | None = None,
    context: str = "",
    platform: str | None = None,
    parts: tuple[tuple[str, int, int], ...] = (),
) -> Found:
    """Parse ``resolved`` (defaults to ``image``); a bad reference becomes a Skipped."""
    if is_templated(image):
        return Skipped(file, line, image, TEMPLATED_REASON, kind, column)
    text = image if resolved is None else resolved
    if not text.strip():
        return Skipped(file, line, image, EMPTY_REASON, kind, column)
    try:
        ref = parse_reference(text)
    except ReferenceFormatError as exc:
        reason = VARIABLE_REASON if "$" in text else str(exc)
        return Skipped(file, line, image, reason, kind, column)
    if ref.tag is None and ref.digest is None:
        ref = replace(ref, tag="latest")  # what Docker pulls for a bare name
    return Reference(
        file=file,
        line=line,
        kind=kind,
        image=image,
        ref=ref,
        column=column,
        context=context,
        platform=platform,
        parts=parts,
    )


def non_string_image(
    file: str, line: int, column: int, kind: RefKind, value: object
) -> Skipped | None:
    """A Skipped for an ``image:`` whose YAML value is not a string (``image: 42``), else None."""
    if isinstance(value, str):
        return None
    return Skipped(file, line, str(value), "image is not a string", kind, column)


class YamlProblem(Exception):
    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


_TRAILING_TAB = re.compile(r"[ \t]*\t[ \t]*(?=\r?$)", re.M)


def yaml12_whitespace(text: str) -> str:
    """``text`` with trailing tabs removed: YAML 1.2 allows them as white space after a value,
    ruamel's scanner rejects them. Positions of every value stay as they are."""
    return _TRAILING_TAB.sub("", text) if "\t" in text else text


def split_documents(text: str) -> list[tuple[int, str]]:
    """``text`` cut at document markers (``---`` / ``...`` at column 0) into ``(first line
    (0-based), chunk)`` pairs, without parsing. A marker at column 0 always ends a document in
    YAML (even inside a block scalar), so each chunk parses on its own. (A plain ``str.find``
    loop: a multi-line regex scan costs ~0.2 s per MB.)"""
    cuts: list[int] = []
    for marker in ("\n---", "\n..."):
        at = text.find(marker)
        while at >= 0:
            after = text[at + 4 : at + 5]
            if after in ("", " ", "\t", "\n", "\r"):
                cuts.append(at + 1)
            at = text.find(marker, at + 4)
    out: list[tuple[int, str]] = []
    start_pos, start_line = 0, 0
    for cut in sorted(cuts):
        chunk = text[start_pos:cut]
        out.append((start_line, chunk))
        start_line += chunk.count("\n")
        start_pos = cut
    out.append((start_line, text[start_pos:]))
    return out


def load_yaml_documents(text: str) -> list[Any]:
    """All documents of ``text`` with the round-trip loader (positions on every node).

    Raises :class:`YamlProblem` (1-based line) for any malformed input.
    """
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    try:
        return [doc for doc in yaml.load_all(yaml12_whitespace(text)) if doc is not None]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        col = mark.column + 1 if mark is not None else 0
        problem = exc.problem or exc.context or type(exc).__name__
        raise YamlProblem(line, col, str(problem)) from exc
    except Exception as exc:  # ruamel raises a handful of unmarked errors too
        raise YamlProblem(1, 0, f"{type(exc).__name__}: {exc}") from exc


def yaml_problem_skip(file: str, problem: YamlProblem, kind: RefKind, text: str) -> Skipped:
    reason = f"malformed YAML at line {problem.line}: {problem.message}"
    if is_templated(text):
        reason += " (the file contains {{ ... }} template syntax and is not plain YAML)"
    return Skipped(file, problem.line, "", reason, kind, problem.column)


def load_or_skip(file: str, text: str, kind: RefKind) -> tuple[list[Any], list[Found]]:
    try:
        return load_yaml_documents(text), []
    except YamlProblem as problem:
        return [], [yaml_problem_skip(file, problem, kind, text)]


def load_wanted_documents(
    file: str, text: str, kind: RefKind, wanted: Callable[[str], bool]
) -> tuple[list[Any], list[Found]]:
    """Like :func:`load_or_skip`, but only the documents whose text ``wanted`` accepts are
    parsed (a cheap text test: a 3 MB file of CRD schemas holds no image and is not parsed).
    Positions stay those of the whole file; a malformed document is reported and the others
    are still read."""
    docs: list[Any] = []
    problems: list[Found] = []
    for first_line, chunk in split_documents(text):
        if not wanted(chunk):
            continue
        try:
            docs.extend(load_yaml_documents("\n" * first_line + chunk))
        except YamlProblem as problem:
            problems.append(yaml_problem_skip(file, problem, kind, chunk))
    return docs, problems


_ANCHOR_OR_TAG = re.compile(r"(?:[&!]\S*\s+)*")


def raw_scalar(lines: list[str], line0: int, col0: int) -> str | None:
    """The source text of the plain or quoted scalar starting at 0-based ``line0``/``col0``.

    Used where the loaded value lost its spelling (``tag: 1.20`` loads as the float 1.2).
    Returns None for block scalars or positions that do not hold a one-line scalar.
    """
    if line0 >= len(lines):
        return None
    rest = lines[line0][col0:].rstrip("\r\n")
    rest = rest[_ANCHOR_OR_TAG.match(rest).end() :]  # type: ignore[union-attr]
    if not rest or rest[0] in "|>[{*":
        return None
    if rest[0] in "'\"":
        quote = rest[0]
        i = 1
        while i < len(rest):
            if quote == "'" and rest[i] == "'":
                if i + 1 < len(rest) and rest[i + 1] == "'":
                    i += 2
                    continue
                return rest[1:i].replace("''", "'")
            if quote == '"' and rest[i] == "\\":
                i += 2
                continue
            if quote == '"' and rest[i] == '"':
                return rest[1:i]
            i += 1
        return None
    comment = re.search(r"\s#", rest)
    if comment:
        rest = rest[: comment.start()]
    return rest.rstrip()


def scalar_text(value: Any, lines: list[str], pos: tuple[int, int] | None) -> str | None:
    """The text of a scalar value as written: strings as loaded, numbers from the source."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if pos is not None:
            raw = raw_scalar(lines, pos[0], pos[1])
            if raw:
                return raw
        return str(value)
    return None


def value_pos(mapping: CommentedMap, key: Any) -> tuple[int, int] | None:
    """0-based (line, column) of ``mapping[key]``'s value, following merge keys."""
    owner = owner_of(mapping, key)
    if owner is None:
        return None
    try:
        line, col = owner.lc.value(key)
    except (KeyError, TypeError, AttributeError):
        return None
    return int(line), int(col)


def display_pos(pos: tuple[int, int] | None) -> tuple[int, int]:
    """1-based (line, column) for a 0-based position; (0, 0) when unknown."""
    if pos is None:
        return 0, 0
    return pos[0] + 1, pos[1] + 1


def owner_of(mapping: CommentedMap, key: Any) -> CommentedMap | None:
    """The map that physically holds ``key``: ``mapping`` itself or a merged (``<<``) map."""
    lc = getattr(mapping, "lc", None)
    if lc is not None and key in (lc.data or {}):
        return mapping
    for merged in _merged_maps(mapping):
        found = owner_of(merged, key)
        if found is not None:
            return found
    return mapping if key in mapping and lc is not None else None


def _merged_maps(mapping: CommentedMap) -> Iterator[CommentedMap]:
    for item in getattr(mapping, "merge", None) or ():
        candidate = item[1] if isinstance(item, tuple) else item
        if isinstance(candidate, CommentedMap):
            yield candidate


def is_map(value: Any) -> bool:
    return isinstance(value, CommentedMap)


def is_seq(value: Any) -> bool:
    return isinstance(value, CommentedSeq)
