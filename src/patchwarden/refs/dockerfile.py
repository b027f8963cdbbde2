"""Image references in Dockerfiles / Containerfiles: ``FROM``, ``COPY --from`` and
``RUN --mount=...,from=``.

This is a small hand-written parser rather than the ``dockerfile-parse`` package: that
package's variable substitution (``WordSplitter``) only knows ``$VAR`` and ``${VAR}`` (a ``:``
ends the name, so ``${VAR:-x}`` and ``${VAR:+x}`` are not expanded), it reports line ranges but
no columns, and it has no notion of unresolved variables that must be reported instead of
silently expanded to "". What we need is narrow: logical lines (continuations with the
``escape`` directive's character, comments inside continuations, heredoc bodies skipped),
global ``ARG`` defaults, BuildKit's variable forms and exact positions.

Resolution rules (mirroring BuildKit):

* Only global ``ARG``\\s (before the first ``FROM``) are visible in ``FROM``; their defaults
  may use earlier global ARGs.
* ``$V``/``${V}`` of an ARG without default → Skipped (it is set with ``--build-arg``);
  ``${V:-w}``/``${V-w}``/``${V:+w}``/``${V+w}`` treat such an ARG as unset, as the builder does
  when no ``--build-arg`` is given.
* A ``FROM`` naming an earlier stage (case-insensitive) and ``scratch`` are not images.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from patchwarden.refs._common import Found, make_reference
from patchwarden.refs.model import RefKind, Skipped

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DIRECTIVE_RE = re.compile(r"^\s*#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S.*?)\s*$")
_HEREDOC_RE = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_TOKEN_RE = re.compile(r"\S+")
# Documentation, and source files named after what they generate (dockerfile.go, ...).
_EXCLUDED_SUFFIXES = (
    ".dockerignore",
    ".md",
    ".rst",
    ".txt",
    ".go",
    ".py",
    ".js",
    ".ts",
    ".java",
    ".rs",
    ".rb",
    ".json",
    ".yaml",
    ".yml",
)
# ARGs the builder defines in the global scope for every platform it builds.
_PLATFORM_ARGS = frozenset(
    f"{prefix}{what}"
    for prefix in ("BUILD", "TARGET")
    for what in ("PLATFORM", "OS", "ARCH", "VARIANT")
)


def is_dockerfile_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(_EXCLUDED_SUFFIXES):
        return False
    for base in ("dockerfile", "containerfile"):
        if lower == base or lower.startswith(base + ".") or lower.endswith("." + base):
            return True
    return False


@dataclass(frozen=True, slots=True)
class _Piece:
    line: int  # 0-based physical line
    column: int  # 0-based column of the piece's first character
    offset: int  # offset of the piece in the logical line
    text: str


@dataclass(frozen=True, slots=True)
class _Instruction:
    pieces: tuple[_Piece, ...]
    text: str

    @property
    def line(self) -> int:
        return self.pieces[0].line + 1

    def position(self, offset: int) -> tuple[int, int]:
        """1-based (physical line, column) of logical ``offset``."""
        for piece in reversed(self.pieces):
            if offset >= piece.offset:
                return piece.line + 1, piece.column + (offset - piece.offset) + 1
        first = self.pieces[0]
        return first.line + 1, first.column + 1


class _Unresolved(Exception):
    pass


def _escape_char(lines: list[str]) -> str:
    escape = "\\"
    seen: set[str] = set()
    for line in lines:
        m = _DIRECTIVE_RE.match(line)
        if not m or m.group(1).lower() in seen:
            break
        seen.add(m.group(1).lower())
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
    return escape


def _instructions(text: str) -> tuple[list[_Instruction], str]:
    lines = text.splitlines()
    escape = _escape_char(lines)
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[_Instruction] = []
    current: list[_Piece] = []
    heredocs: list[tuple[bool, str]] = []

    def finish() -> None:
        nonlocal current
        if current:
            instr = _Instruction(tuple(current), "".join(p.text for p in current))
            out.append(instr)
            first = instr.text.split(None, 1)[0].upper() if instr.text.strip() else ""
            if first in ("RUN", "COPY", "ADD"):
                heredocs.extend(
                    (m.group(1) == "-", m.group(3)) for m in _HEREDOC_RE.finditer(instr.text)
                )
        current = []

    for idx, raw in enumerate(lines):
        if heredocs:
            dash, word = heredocs[0]
            body = raw.lstrip("\t") if dash else raw
            if body.rstrip() == word:
                heredocs.pop(0)
            continue
        stripped = raw.lstrip()
        if not stripped or stripped.startswith("#"):
            continue  # comments and blank lines, also inside continuations
        col = len(raw) - len(stripped) if not current else 0
        content = stripped if not current else raw
        offset = sum(len(p.text) for p in current)
        m = continuation.search(content)
        if m:
            current.append(_Piece(idx, col, offset, content[: m.start()]))
            continue
        current.append(_Piece(idx, col, offset, content))
        finish()
    finish()
    return out, escape


def expand(text: str, variables: dict[str, str | None], escape: str = "\\") -> str:
    """Expand ``$V``, ``${V}``, ``${V:-w}``, ``${V-w}``, ``${V:+w}``, ``${V+w}``.

    ``variables`` maps declared ARGs to their default (None: declared without default).
    Raises :class:`_Unresolved` with a user-facing reason.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == escape and i + 1 < n and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        if c != "$":
            out.append(c)
            i += 1
            continue
        if i + 1 < n and text[i + 1] == "{":
            depth, j = 1, i + 2
            while j < n and depth:
                if text[j] == "{":
                    depth += 1
                elif text[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                raise _Unresolved(f"unterminated variable reference in {text!r}")
            inner = text[i + 2 : j - 1]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])(.*))?", inner, re.S)
            if not m:
                raise _Unresolved(f"unsupported variable expression ${{{inner}}}")
            name, op, word = m.group(1), m.group(2), m.group(3) or ""
            out.append(_apply(name, op, word, variables, escape))
            i = j
            continue
        m = _NAME_RE.match(text, i + 1)
        if not m:
            out.append("$")
            i += 1
            continue
        out.append(_apply(m.group(0), None, "", variables, escape))
        i = m.end()
    return "".join(out)


def _apply(
    name: str, op: str | None, word: str, variables: dict[str, str | None], escape: str
) -> str:
    declared = name in variables
    value = variables.get(name)
    if op is None:
        if value is not None:
            return value
        if declared:
            raise _Unresolved(f"variable {name} has no default (set by --build-arg at build time)")
        if name in _PLATFORM_ARGS:
            raise _Unresolved(f"variable {name} is set by the builder for each target platform")
        raise _Unresolved(
            f"variable {name} is not declared by an ARG before the first FROM "
            "(the builder expands it to an empty string)"
        )
    if op == ":-":
        return value if value else expand(word, variables, escape)
    if op == "-":
        return value if value is not None else expand(word, variables, escape)
    if op == ":+":
        return expand(word, variables, escape) if value else ""
    return expand(word, variables, escape) if value is not None else ""  # "+"


def _parse_arg(body: str, variables: dict[str, str | None], escape: str) -> None:
    try:
        words = shlex.split(body, posix=True)
    except ValueError:
        words = body.split()
    for word in words:
        name, eq, value = word.partition("=")
        if not _NAME_RE.fullmatch(name):
            continue
        if not eq:
            variables.setdefault(name, None)
            continue
        try:
            variables[name] = expand(value, variables, escape)
        except _Unresolved:
            variables[name] = None


class DockerfileSource:
    kind = RefKind.DOCKERFILE

    def claims(self, path: Path, text: str) -> bool:
        return is_dockerfile_name(path.name)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        instructions, escape = _instructions(text)
        global_args: dict[str, str | None] = {}
        stages: set[str] = set()
        stage_index = -1
        found: list[Found] = self._syntax(rel_path, text)
        for instr in instructions:
            tokens = [(m.group(0), m.start()) for m in _TOKEN_RE.finditer(instr.text)]
            if not tokens:
                continue
            keyword = tokens[0][0].upper()
            if keyword == "ARG" and stage_index < 0:
                _parse_arg(instr.text[tokens[0][1] + 3 :], global_args, escape)
            elif keyword == "FROM":
                stage_index += 1
                found.extend(
                    self._from(
                        rel_path, instr, tokens[1:], global_args, stages, stage_index, escape
                    )
                )
            elif keyword in ("COPY", "RUN") and stage_index >= 0:
                found.extend(
                    self._from_flags(
                        rel_path, instr, tokens[1:], global_args, stages, escape, keyword
                    )
                )
        return found

    def _syntax(self, rel_path: str, text: str) -> list[Found]:
        """``# syntax=docker/dockerfile:1.4``: BuildKit pulls that frontend image to build."""
        seen: set[str] = set()
        for number, line in enumerate(text.splitlines(), start=1):
            m = _DIRECTIVE_RE.match(line)
            if not m or m.group(1).lower() in seen:
                return []  # parser directives end at the first other line (or a repeat)
            seen.add(m.group(1).lower())
            if m.group(1).lower() != "syntax":
                continue
            value = m.group(2)
            column = m.start(2) + 1
            return [
                make_reference(
                    file=rel_path,
                    line=number,
                    column=column,
                    kind=self.kind,
                    image=value,
                    context="# syntax= directive (BuildKit frontend image)",
                    parts=(("image", number, column),),
                )
            ]
        return []

    def _from(
        self,
        rel_path: str,
        instr: _Instruction,
        args: list[tuple[str, int]],
        global_args: dict[str, str | None],
        stages: set[str],
        index: int,
        escape: str,
    ) -> list[Found]:
        platform: str | None = None
        while args and args[0][0].startswith("--"):
            flag = args.pop(0)[0]
            if flag.lower().startswith("--platform="):
                platform = flag.split("=", 1)[1]
        if not args:
            return [
                Skipped(
                    rel_path, instr.line, instr.text.strip(), "FROM without an image", self.kind
                )
            ]
        image, offset = args[0]
        alias = args[2][0] if len(args) >= 3 and args[1][0].lower() == "as" else None
        stage_label = alias if alias else str(index)
        earlier_stages = set(stages)
        if alias:
            stages.add(alias.lower())
        if platform is not None and "$" not in platform:
            with contextlib.suppress(_Unresolved):
                platform = expand(platform, global_args, escape)
        line, column = instr.position(offset)
        try:
            resolved = expand(image, global_args, escape)
        except _Unresolved as exc:
            return [Skipped(rel_path, instr.line, image, str(exc), self.kind, column)]
        lowered = resolved.lower()
        if lowered == "scratch" or lowered in earlier_stages:
            return []
        return [
            make_reference(
                file=rel_path,
                line=instr.line,
                column=column,
                kind=self.kind,
                image=image,
                resolved=resolved,
                context=f"FROM (stage {stage_label})",
                platform=platform,
                parts=(("image", line, column),),
            )
        ]

    def _from_flags(
        self,
        rel_path: str,
        instr: _Instruction,
        args: list[tuple[str, int]],
        global_args: dict[str, str | None],
        stages: set[str],
        escape: str,
        keyword: str,
    ) -> list[Found]:
        found: list[Found] = []
        for flag, offset in args:
            if not flag.startswith("--"):
                break
            name, _, value = flag.partition("=")
            name = name.lower()
            if keyword == "COPY" and name == "--from":
                candidates = [(value, offset + len(name) + 1, "COPY --from")]
            elif keyword == "RUN" and name == "--mount":
                candidates = []
                pos = offset + len(name) + 1
                for option in value.split(","):
                    key, eq, val = option.partition("=")
                    if eq and key.strip().lower() == "from":
                        candidates.append((val, pos + len(key) + 1, "RUN --mount from"))
                    pos += len(option) + 1
            else:
                continue
            for text, off, context in candidates:
                text = text.strip("\"'")
                line, column = instr.position(off)
                try:
                    resolved = expand(text, global_args, escape)
                except _Unresolved as exc:
                    found.append(Skipped(rel_path, instr.line, text, str(exc), self.kind, column))
                    continue
                if not resolved or resolved.isdigit() or resolved.lower() in stages:
                    continue  # a stage (by name or index), not an image
                if resolved.lower() == "scratch":
                    continue
                found.append(
                    make_reference(
                        file=rel_path,
                        line=instr.line,
                        column=column,
                        kind=self.kind,
                        image=text,
                        resolved=resolved,
                        context=context,
                        parts=(("image", line, column),),
                    )
                )
        return found
