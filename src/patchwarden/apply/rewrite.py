"""Apply planned edits to files: in memory, verified by re-parsing, written atomically.

A group of files (one update branch, say) changes all together or not at all: every file is
edited in memory and re-parsed, and the new reference must be found where the old one was;
only then are the files written (temp file + ``os.replace``, mode kept). If writing one file
fails, the files already replaced are restored from their original bytes.
"""

from __future__ import annotations

import contextlib
import difflib
import glob
import stat
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from patchwarden.apply.edits import CannotEdit, Edit, Target, plan
from patchwarden.apply.variables import plan_variables
from patchwarden.core.files import write_atomic
from patchwarden.core.ref import ImageRef
from patchwarden.errors import PatchwardenError
from patchwarden.refs.model import Reference
from patchwarden.refs.registry import SOURCES


class RewriteError(PatchwardenError):
    """A rewrite could not be made or verified; nothing was written."""


@dataclass(frozen=True, slots=True)
class Change:
    """One reference to move, and where it should end up."""

    reference: Reference
    target: Target
    expected: ImageRef  # the normalized reference the file must contain afterwards


@dataclass(frozen=True, slots=True)
class FileChange:
    path: Path  # absolute
    rel: str
    before: str
    after: str

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.before.splitlines(keepends=True),
                self.after.splitlines(keepends=True),
                fromfile=f"a/{self.rel}",
                tofile=f"b/{self.rel}",
            )
        )


def _read(path: Path) -> str:
    with path.open("r", encoding="utf-8", newline="") as fh:  # keep CRLF as it is
        return fh.read()


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    lines = text.splitlines(keepends=True)
    # Bottom-up and right-to-left, so earlier positions stay valid.
    for e in sorted(edits, key=lambda e: (e.line, e.column), reverse=True):
        body = lines[e.line - 1]
        if e.insert_after:
            eol = body[len(body.rstrip("\r\n")) :] or "\n"
            if not body.endswith(("\n", "\r")):
                lines[e.line - 1] = body + eol
            lines.insert(e.line, e.new + eol)
            continue
        start = e.column - 1
        if body[start : start + len(e.old)] != e.old:
            raise CannotEdit(f"{e.file}:{e.line} changed while planning: expected {e.old!r}")
        lines[e.line - 1] = body[:start] + e.new + body[start + len(e.old) :]
    return "".join(lines)


@dataclass(frozen=True, slots=True)
class SkippedChange:
    """A change that cannot be written, and why (user-facing); the others still are."""

    change: Change
    reason: str


def prepare(root: Path, changes: Sequence[Change]) -> list[FileChange]:
    """Edit and verify every file in memory; raise :class:`RewriteError` on any problem."""
    files, skipped = prepare_partial(root, changes)
    if skipped:
        first = skipped[0]
        raise RewriteError(f"cannot rewrite {first.change.reference.file}: {first.reason}")
    return files


def prepare_partial(
    root: Path, changes: Sequence[Change]
) -> tuple[list[FileChange], list[SkippedChange]]:
    """Edit and verify every file in memory. A change that cannot be planned, conflicts with
    another one, or does not read back as expected is returned as skipped with the reason;
    the file is then prepared without it. Unreadable files raise :class:`RewriteError`."""
    by_file: dict[str, list[Change]] = defaultdict(list)
    for c in changes:
        by_file[c.reference.file].append(c)
    out: list[FileChange] = []
    skipped: list[SkippedChange] = []
    for rel, file_changes in sorted(by_file.items()):
        path = (root / rel).resolve()
        try:
            before = _read(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise RewriteError(f"cannot read {rel}: {exc}") from None
        pending = list(file_changes)
        while True:
            after, kept, dropped = _edit_file(path, before, pending)
            skipped.extend(dropped)
            if after == before:
                break
            bad = _verify(path, rel, after, kept)
            if bad is None:
                out.append(FileChange(path, rel, before, after))
                break
            change, reason = bad
            skipped.append(SkippedChange(change, reason))
            pending = [c for c in kept if c is not change]
    return out, skipped


def _edit_file(
    path: Path, before: str, changes: Sequence[Change]
) -> tuple[str, list[Change], list[SkippedChange]]:
    lines = before.splitlines(keepends=True)
    covered = [c.reference for c in changes]
    kept: list[Change] = []
    dropped: list[SkippedChange] = []
    edits: list[Edit] = []
    for c in changes:
        others = [r for r in covered if r is not c.reference]
        try:
            # a reference written with variables is moved where the value is written; an
            # ARG default only when all its uses are among ``others`` (this update's moves)
            if "$" in c.reference.image and "{{" not in c.reference.image:
                planned = plan_variables(c.reference, c.target, lines, covered=others, path=path)
            else:
                planned = plan(c.reference, c.target, lines)
            merged = _dedupe([*edits, *planned])
            apply_edits(before, merged)  # an edit that no longer matches the text is caught here
        except CannotEdit as exc:
            dropped.append(SkippedChange(c, str(exc)))
            continue
        edits = merged
        kept.append(c)
    return apply_edits(before, edits), kept, dropped


def _dedupe(edits: list[Edit]) -> list[Edit]:
    """Several references may share one edit (a Helm map read twice); keep each place once."""
    seen: dict[tuple[int, int, bool, str], Edit] = {}
    for e in edits:
        key = (e.line, e.column, e.insert_after, e.new if e.insert_after else e.old)
        if key in seen and seen[key].new != e.new:
            raise CannotEdit(f"{e.file}:{e.line} would be changed two different ways")
        seen[key] = e
    return list(seen.values())


def _verify(
    path: Path, rel: str, after: str, changes: Sequence[Change]
) -> tuple[Change, str] | None:
    """Re-parse the edited text; each changed reference must read as expected, near its line.
    Returns the first change that does not, with the reason."""
    source = next((s for s in SOURCES if s.claims(path, after)), None)
    extracted = [] if source is None else source.extract(rel, after, path=path)
    found = [r for r in extracted if isinstance(r, Reference)]
    for c in changes:
        want = c.expected
        hits = [
            r
            for r in found
            if (r.ref.registry, r.ref.repository, r.ref.tag, r.ref.digest)
            == (want.registry, want.repository, want.tag, want.digest)
            and abs(r.line - c.reference.line) <= 2
        ]
        if not hits:
            return c, (
                f"after the edit {rel}:{c.reference.line} would not read {want}; not written "
                "(please report this file shape; edit it by hand meanwhile)"
            )
    return None


def write_group(files: Sequence[FileChange]) -> None:
    """Write every file atomically; on failure restore those already written."""
    written: list[FileChange] = []
    try:
        for fc in files:
            _atomic_write(fc.path, fc.after)
            written.append(fc)
    except OSError as exc:
        for fc in reversed(written):
            with contextlib.suppress(OSError):
                _atomic_write(fc.path, fc.before)
        raise RewriteError(
            f"could not write {len(files) - len(written)} file(s) ({exc}); "
            f"restored {len(written)} already written",
        ) from None


STALE_TMP_SECONDS = 600  # an atomic write's temp file lives for milliseconds


def prune_stale_tmp(path: Path) -> list[Path]:
    """Remove ``.NAME.*.tmp`` next to ``path`` left by a killed run (older than 10 minutes)."""
    removed: list[Path] = []
    now = time.time()
    try:
        siblings = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    except OSError:
        return removed
    for tmp in siblings:
        try:
            st = tmp.lstat()
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > STALE_TMP_SECONDS:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


def _atomic_write(path: Path, text: str) -> None:
    prune_stale_tmp(path)
    write_atomic(path, text, mode=path.stat().st_mode & 0o7777)
