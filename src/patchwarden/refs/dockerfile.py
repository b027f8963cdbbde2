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

The lexing is :mod:`patchwarden.refs.dockerfile_lex`, the variable expansion
:mod:`patchwarden.refs.dockerfile_expand`; this module finds the references.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from patchwarden.refs._common import Found, make_reference
from patchwarden.refs.dockerfile_expand import Unresolved, expand, parse_arg
from patchwarden.refs.dockerfile_lex import (
    DIRECTIVE_RE,
    TOKEN_RE,
    Instruction,
    logical_instructions,
)
from patchwarden.refs.model import RefKind, Skipped

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


def is_dockerfile_name(name: str) -> bool:
    lower = name.lower()
    if lower.endswith(_EXCLUDED_SUFFIXES):
        return False
    for base in ("dockerfile", "containerfile"):
        if lower == base or lower.startswith(base + ".") or lower.endswith("." + base):
            return True
    return False


class DockerfileSource:
    kind = RefKind.DOCKERFILE

    def claims(self, path: Path, text: str) -> bool:
        return is_dockerfile_name(path.name)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        instructions, escape = logical_instructions(text)
        global_args: dict[str, str | None] = {}
        stages: set[str] = set()
        stage_index = -1
        found: list[Found] = self._syntax(rel_path, text)
        for instr in instructions:
            tokens = [(m.group(0), m.start()) for m in TOKEN_RE.finditer(instr.text)]
            if not tokens:
                continue
            keyword = tokens[0][0].upper()
            if keyword == "ARG" and stage_index < 0:
                parse_arg(instr.text[tokens[0][1] + 3 :], global_args, escape)
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
            m = DIRECTIVE_RE.match(line)
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
        instr: Instruction,
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
            with contextlib.suppress(Unresolved):
                platform = expand(platform, global_args, escape)
        line, column = instr.position(offset)
        try:
            resolved = expand(image, global_args, escape)
        except Unresolved as exc:
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
        instr: Instruction,
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
                except Unresolved as exc:
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
