"""Rewrites of references built from variables: edit the value where it is written.

``FROM node:${NODE}-alpine`` with ``ARG NODE=18`` moves to 21 by writing ``ARG NODE=21``;
compose ``image: app:${TAG:-1.2}`` by writing the default word ``1.2``; ``${REGISTRY}/app:1.2``
by editing the literal ``1.2``. The written reference is cut into segments (literal text and
variable uses), each with its current value and, when it can be edited, the place (a *site*)
where that value is written. The resolved text and the wanted text are compared; the one
changed span must fall inside one segment with a site, or the reference cannot be written
(a :class:`~patchwarden.apply.edits.CannotEdit` with the reason).

A global ``ARG`` default is edited only when every use of that ARG in the file is inside an
image reference the same update moves (``covered``): an ARG that also feeds a ``RUN`` or a
``LABEL`` keeps its value, and the reference is reported as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from patchwarden.apply.edits import CannotEdit, Edit, Target, join_written, split_written
from patchwarden.refs.compose import compose_environment
from patchwarden.refs.dockerfile_args import ArgDefault, global_arg_defaults, variable_uses
from patchwarden.refs.model import Reference, RefKind

_VAR = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])([^{}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


@dataclass(frozen=True, slots=True)
class Site:
    line: int
    column: int  # 1-based start of ``text``
    text: str


@dataclass(frozen=True, slots=True)
class Segment:
    value: str
    site: Site | None
    why: str = ""  # why it cannot be edited, when site is None


def plan_variables(
    ref: Reference,
    target: Target,
    lines: list[str],
    *,
    covered: Sequence[Reference] = (),
    path: Path | None = None,
) -> list[Edit]:
    """Edits moving a reference written with variables to ``target``."""
    line, column = dict((n, (ln, c)) for n, ln, c in ref.parts).get("image", (ref.line, ref.column))
    body = lines[line - 1]
    start = column - 1
    if 0 <= start < len(body) and body[start] in "\"'":
        start += 1
    if not body.startswith(ref.image, start):
        raise CannotEdit(f"{ref.file}:{line} no longer reads {ref.image!r}; re-run on the file")
    if ref.kind == RefKind.DOCKERFILE:
        segments = _dockerfile_segments(ref, "".join(lines), line, start + 1, covered)
    elif ref.kind == RefKind.COMPOSE:
        segments = _compose_segments(ref.image, line, start + 1, compose_environment(path))
    else:
        segments = _literal_tail_segments(ref.image, line, start + 1)
    return [_solve(ref, target, segments)]


def _solve(ref: Reference, target: Target, segments: list[Segment]) -> Edit:
    current = "".join(s.value for s in segments)
    name, tag, digest = split_written(current)
    new_digest = None if target.drop_digest else (target.digest or digest)
    wanted = join_written(name, target.tag if target.tag is not None else tag, new_digest)
    if wanted == current:
        raise CannotEdit(f"{ref.image!r} already resolves to {wanted!r}")
    p = 0
    while p < min(len(current), len(wanted)) and current[p] == wanted[p]:
        p += 1
    s = 0
    while s < min(len(current), len(wanted)) - p and current[-1 - s] == wanted[-1 - s]:
        s += 1
    old_end, replacement = len(current) - s, wanted[p : len(wanted) - s]
    offset = 0
    reasons: list[str] = []
    for seg in segments:
        seg_end = offset + len(seg.value)
        if offset <= p and old_end <= seg_end:
            if seg.site is None:
                reasons.append(seg.why)
            else:
                site = seg.site
                local = p - offset
                new = site.text[:local] + replacement + site.text[local + (old_end - p) :]
                return Edit(ref.file, site.line, site.column, site.text, new)
        offset = seg_end
    if reasons:
        raise CannotEdit(f"{ref.image!r}: " + "; ".join(dict.fromkeys(reasons)))
    raise CannotEdit(
        f"{ref.image!r}: the new version {wanted!r} would change several variables at once; "
        "edit it by hand"
    )


def _split(text: str) -> list[tuple[int, int, re.Match[str] | None]]:
    out: list[tuple[int, int, re.Match[str] | None]] = []
    pos = 0
    for m in _VAR.finditer(text):
        if m.start() > pos:
            out.append((pos, m.start(), None))
        out.append((m.start(), m.end(), m))
        pos = m.end()
    if pos < len(text):
        out.append((pos, len(text), None))
    return out


def _literal(text: str, line: int, column: int, start: int, end: int) -> Segment:
    piece = text[start:end]
    if "$" in piece or "\\" in piece:
        return Segment(piece, None, "an escaped '$' in the reference")
    return Segment(piece, Site(line, column + start, piece))


def _word(text: str, m: re.Match[str], line: int, column: int) -> Segment:
    word = m.group(3) or ""
    if "$" in word:
        return Segment(word, None, f"the default of {m.group(1)} is built from variables")
    return Segment(word, Site(line, column + m.start(3), word))


def _dockerfile_segments(
    ref: Reference, text: str, line: int, column: int, covered: Sequence[Reference]
) -> list[Segment]:
    args, _ = global_arg_defaults(text)
    out: list[Segment] = []
    for start, end, m in _split(ref.image):
        if m is None:
            out.append(_literal(ref.image, line, column, start, end))
            continue
        name = m.group(1) or m.group(4)
        op = m.group(2)
        default = args.get(name)
        if op in (":+", "+", ":?", "?"):
            raise CannotEdit(f"{ref.image!r}: ${{{name}{op}...}} cannot be rewritten")
        use_default = default is not None and (op in (None, "-") or default.text)
        if use_default and default is not None:
            out.append(_arg_segment(ref, text, default, covered))
        elif op in (":-", "-"):
            out.append(_word(ref.image, m, line, column))
        else:
            raise CannotEdit(f"ARG {name} has no default in the file")
    return out


def _arg_segment(
    ref: Reference, text: str, default: ArgDefault, covered: Sequence[Reference]
) -> Segment:
    if "$" in default.text:
        why = f"the default of ARG {default.name} is built from other variables"
        return Segment(default.text, None, why)
    spans = [(r.parts[0][1] if r.parts else r.line, r) for r in (*covered, ref)]
    for use_line, use_col in variable_uses(text, default.name):
        inside = any(
            use_line == ln and r.column <= use_col < r.column + len(r.image) + 1 for ln, r in spans
        )
        if not inside:
            why = (
                f"ARG {default.name} is also used at line {use_line}, which this update does "
                "not move; change it by hand (or give that use its own ARG)"
            )
            return Segment(default.text, None, why)
    return Segment(default.text, Site(default.line, default.column, default.text))


def _compose_segments(image: str, line: int, column: int, env: dict[str, str]) -> list[Segment]:
    out: list[Segment] = []
    for start, end, m in _split(image):
        if m is None:
            out.append(_literal(image, line, column, start, end))
            continue
        name = m.group(1) or m.group(4)
        op = m.group(2)
        value = env.get(name)
        set_here = value if op == ":-" else (value if name in env else None)
        if op in (":-", "-") and not set_here:
            out.append(_word(image, m, line, column))
        elif value is not None and op in (None, ":-", "-"):
            why = f"{name} comes from the environment or the .env file; change it there"
            out.append(Segment(value, None, why))
        else:
            raise CannotEdit(f"{image!r}: ${{{name}{op or ''}...}} cannot be rewritten")
    return out


def _literal_tail_segments(image: str, line: int, column: int) -> list[Segment]:
    """Other kinds: only a literal tag/digest after the last variable can be edited."""
    pieces = _split(image)
    last_var_end = max((end for _, end, m in pieces if m is not None), default=0)
    tail = image[last_var_end:]
    colon = tail.rfind(":", 0, tail.find("@") if "@" in tail else len(tail))
    if colon < 0 or "/" in tail[colon:]:
        raise CannotEdit(
            f"{image!r} is built from variables whose values are not in this file; "
            "change the variable's value instead"
        )
    why = "variables whose values are set outside this file"
    head = Segment("\0" * last_var_end, None, why)  # never equal to a wanted character
    return [head, _literal(image, line, column, last_var_end, len(image))]
