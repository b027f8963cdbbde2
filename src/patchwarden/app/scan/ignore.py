"""The vulnerability ignore file, ``.patchwarden-vulnignore.yaml``: accepted risks, each with a
reason and an expiry date.

Not to be confused with ``.patchwardenignore`` (gitignore-style paths skipped by discovery).
An entry ignores a finding when its ``id`` is the finding's id or one of its aliases and, when
``package`` is given, that name is the package's name or its source package's name. An entry
whose ``expires`` date has passed ignores nothing and is reported, so accepted risks are looked
at again. Unknown keys are errors naming the key path and line, as in patchwarden.yaml.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

from patchwarden.errors import ConfigError
from patchwarden.sbom.model import IgnoredFinding
from patchwarden.scan.model import Finding

IGNORE_FILE_NAME = ".patchwarden-vulnignore.yaml"
HINT = "see docs/ignore-file.md"


class AcceptedRisk(Protocol):
    """One entry of the file; :class:`~patchwarden.app.scan.ignore_file.IgnoreEntry` is the
    validated form (kept apart: pydantic and ruamel.yaml load only when there is a file)."""

    @property
    def id(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def expires(self) -> date: ...
    @property
    def package(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    entry: AcceptedRisk
    source: str  # "path:line"

    def matches(self, f: Finding) -> bool:
        e = self.entry
        if e.id != f.id and e.id not in f.aliases:
            return False
        return e.package is None or e.package in (f.package.name, f.package.source_name)

    def expired(self, today: date) -> bool:
        return self.entry.expires < today


@dataclass(frozen=True, slots=True)
class IgnoreFile:
    path: Path
    rules: tuple[IgnoreRule, ...]


def find_ignore_file(explicit: Path | None, cwd: Path) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"ignore file {explicit} does not exist", "check --ignore-file")
        return explicit
    default = cwd / IGNORE_FILE_NAME
    return default if default.is_file() else None


@dataclass(frozen=True, slots=True)
class IgnoreOutcome:
    kept: tuple[Finding, ...]
    ignored: tuple[IgnoredFinding, ...]
    expired: tuple[IgnoreRule, ...]  # every expired entry, whether it matched or not


def apply_ignores(
    findings: Iterable[Finding], rules: Iterable[IgnoreRule], today: date
) -> IgnoreOutcome:
    rules = tuple(rules)
    active = [r for r in rules if not r.expired(today)]
    kept: list[Finding] = []
    ignored: list[IgnoredFinding] = []
    for f in findings:
        rule = next((r for r in active if r.matches(f)), None)
        if rule is None:
            kept.append(f)
        else:
            ignored.append(IgnoredFinding(f, rule.entry.reason, rule.entry.expires, rule.source))
    return IgnoreOutcome(tuple(kept), tuple(ignored), tuple(r for r in rules if r.expired(today)))


def expired_message(rule: IgnoreRule) -> str:
    e = rule.entry
    what = e.id + (f" ({e.package})" if e.package else "")
    return (
        f"{rule.source}: ignore entry for {what} expired on {e.expires.isoformat()} and no "
        "longer ignores anything; fix the finding, or renew the entry with a new date"
    )
