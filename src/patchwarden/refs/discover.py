"""Walk paths and collect every image reference (and every place that could not be resolved).

``file`` convention:

* for a **directory** argument, ``file`` is the POSIX path relative to that directory
  (``services/api/Dockerfile``); scanning two directories that both hold a ``Dockerfile``
  therefore gives two entries with the same ``file`` — scan their common parent instead;
* for a **file** argument, ``file`` is its POSIX path relative to the current working
  directory when it is under it, else the path exactly as given.

Excludes (gitignore-style, ``gitwildmatch``) and the root's ``.patchwardenignore`` are matched
against those relative paths; ``excludes`` also apply to file arguments. Vendored and tool
directories (:data:`SKIPPED_DIRS`) are never entered. Symlinks are not followed unless
``follow_symlinks`` (then directory cycles are cut). Files over :data:`MAX_FILE_SIZE` and files
that are not UTF-8 become Skipped entries. ``compose_files`` (gitignore-style patterns, from
``discovery.compose_files``) names files read as Compose files whatever their name
(``deploy/stack.yml``). A path that does not exist raises
:class:`~patchwarden.errors.UsageError`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pathspec

from patchwarden.core.safe_read import FileTooLargeError, NotRegularFileError, read_regular
from patchwarden.errors import UsageError
from patchwarden.refs.model import Inventory, Reference, Skipped
from patchwarden.refs.registry import is_candidate_name, source_for

MAX_FILE_SIZE = 32 * 1024 * 1024  # a release's install.yaml of CRDs is 3-10 MB
IGNORE_FILE = ".patchwardenignore"
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "vendor",
        "third_party",
        ".venv",
        "venv",
        "__pycache__",
        ".tox",
        ".nox",
        "dist",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".terraform",
    }
)


def discover(
    paths: Sequence[Path],
    *,
    excludes: Sequence[str] = (),
    follow_symlinks: bool = False,
    compose_files: Sequence[str] = (),
) -> Inventory:
    references: dict[tuple[str, int, int, str], Reference] = {}
    skipped: dict[tuple[str, int, int, str, str], Skipped] = {}
    user_spec = _spec(excludes)
    compose_spec = _spec(compose_files) if compose_files else None
    for given in paths:
        path = Path(given)
        if path.is_dir():
            spec = _spec([*excludes, *_ignore_file_lines(path)])
            files = _walk(path, spec, follow_symlinks)
        elif path.is_file() or path.exists():  # a FIFO given by name: skipped, never opened
            rel = _display_path(path)
            if user_spec.match_file(rel) or (path.is_symlink() and not follow_symlinks):
                continue
            files = iter([(path, rel, None)])
        else:
            raise UsageError(f"path {str(given)!r} does not exist")
        for file_path, rel, problem in files:
            compose = compose_spec is not None and compose_spec.match_file(rel)
            found = (
                _scan_file(file_path, rel, compose=compose)
                if problem is None
                else [Skipped(rel, 0, "", problem)]
            )
            for item in found:
                if isinstance(item, Reference):
                    references.setdefault((item.file, item.line, item.column, item.image), item)
                else:
                    key = (item.file, item.line, item.column, item.text, item.reason)
                    skipped.setdefault(key, item)
    return Inventory(
        references=tuple(
            sorted(references.values(), key=lambda r: (r.file, r.line, r.column, r.image))
        ),
        skipped=tuple(
            sorted(skipped.values(), key=lambda s: (s.file, s.line, s.column, s.text, s.reason))
        ),
    )


def _spec(lines: Iterable[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(list(lines))


def _ignore_file_lines(root: Path) -> list[str]:
    ignore = root / IGNORE_FILE
    try:
        return read_regular(ignore, MAX_FILE_SIZE).decode("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _walk(
    root: Path, spec: pathspec.GitIgnoreSpec, follow_symlinks: bool
) -> Iterable[tuple[Path, str, str | None]]:
    """(path, relative path, problem): files to read, and directories that cannot be listed
    with the reason (reported as skipped, never silently left out)."""
    visited: set[str] = set()
    unreadable: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(
        root, followlinks=follow_symlinks, onerror=unreadable.append
    ):
        while unreadable:
            yield from _unreadable_dir(root, unreadable.pop())
        current = Path(dirpath)
        if follow_symlinks:
            real = os.path.realpath(dirpath)
            if real in visited:
                dirnames[:] = []
                continue
            visited.add(real)
        rel_dir = current.relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        keep = []
        for name in sorted(dirnames):
            if name in SKIPPED_DIRS or spec.match_file(f"{prefix}{name}/"):
                continue
            if not follow_symlinks and (current / name).is_symlink():
                continue
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            rel = prefix + name
            file_path = current / name
            if spec.match_file(rel):
                continue
            if not follow_symlinks and file_path.is_symlink():
                continue
            yield file_path, rel, None
    while unreadable:
        yield from _unreadable_dir(root, unreadable.pop())


def _unreadable_dir(root: Path, exc: OSError) -> Iterable[tuple[Path, str, str | None]]:
    if exc.filename is None:
        return
    where = Path(exc.filename)
    try:
        rel = where.relative_to(root).as_posix()
    except ValueError:
        rel = where.as_posix()
    yield where, rel if rel != "." else ".", f"cannot read directory: {exc.strerror or exc}"


def _scan_file(path: Path, rel: str, *, compose: bool = False) -> list[Reference | Skipped]:
    if not compose and not is_candidate_name(path.name):
        return []
    try:
        data = read_regular(path, MAX_FILE_SIZE)
    except FileTooLargeError:
        size = path.stat().st_size
        limit = MAX_FILE_SIZE // (1024 * 1024)
        return [Skipped(rel, 0, "", f"file is larger than {limit} MiB ({size} bytes); not scanned")]
    except NotRegularFileError as exc:
        return [Skipped(rel, 0, "", f"not read: {exc.args[0].rpartition(' is ')[2]}")]
    except OSError as exc:
        return [Skipped(rel, 0, "", f"cannot read file: {exc.strerror or exc}")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [Skipped(rel, 0, "", f"file is not valid UTF-8 (byte {exc.start}); not scanned")]
    source = source_for(path, text, compose=compose)
    if source is None:
        return []
    try:
        return source.extract(rel, text, path=path)
    except Exception as exc:  # a bug in a source must not stop the scan
        return [
            Skipped(
                rel,
                0,
                "",
                f"internal error in the {source.kind} reader ({type(exc).__name__}: {exc}); "
                "please report this",
                source.kind,
            )
        ]
