"""A Dockerfile's logical instructions: parser directives (the ``escape`` character),
continuation lines (comments inside them dropped), heredoc bodies skipped, and for every
instruction the physical line and column of each of its characters."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DIRECTIVE_RE = re.compile(r"^\s*#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(\S.*?)\s*$")
HEREDOC_RE = re.compile(r"(?<!<)<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
TOKEN_RE = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Piece:
    line: int  # 0-based physical line
    column: int  # 0-based column of the piece's first character
    offset: int  # offset of the piece in the logical line
    text: str


@dataclass(frozen=True, slots=True)
class Instruction:
    pieces: tuple[Piece, ...]
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


def _escape_char(lines: list[str]) -> str:
    escape = "\\"
    seen: set[str] = set()
    for line in lines:
        m = DIRECTIVE_RE.match(line)
        if not m or m.group(1).lower() in seen:
            break
        seen.add(m.group(1).lower())
        if m.group(1).lower() == "escape" and m.group(2) in ("\\", "`"):
            escape = m.group(2)
    return escape


def logical_instructions(text: str) -> tuple[list[Instruction], str]:
    lines = text.splitlines()
    escape = _escape_char(lines)
    continuation = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    current: list[Piece] = []
    heredocs: list[tuple[bool, str]] = []

    def finish() -> None:
        nonlocal current
        if current:
            instr = Instruction(tuple(current), "".join(p.text for p in current))
            out.append(instr)
            first = instr.text.split(None, 1)[0].upper() if instr.text.strip() else ""
            if first in ("RUN", "COPY", "ADD"):
                heredocs.extend(
                    (m.group(1) == "-", m.group(3)) for m in HEREDOC_RE.finditer(instr.text)
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
            current.append(Piece(idx, col, offset, content[: m.start()]))
            continue
        current.append(Piece(idx, col, offset, content))
        finish()
    finish()
    return out, escape
