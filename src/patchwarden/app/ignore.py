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

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from patchwarden.config.loader import key_path, line_of, plain_data
from patchwarden.errors import ConfigError
from patchwarden.sbom.model import IgnoredFinding
from patchwarden.scan.model import Finding

IGNORE_FILE_NAME = ".patchwarden-vulnignore.yaml"
HINT = "see docs/ignore-file.md"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IgnoreEntry(_Strict):
    id: str = Field(min_length=1, description="vulnerability id or alias: CVE-..., GHSA-...")
    reason: str = Field(min_length=1, description="why this risk is accepted")
    expires: date = Field(description="last day the entry applies (YYYY-MM-DD)")
    package: str | None = Field(None, description="only for this package (or source package)")


class IgnoreFileModel(_Strict):
    version: int = 1
    ignore: list[IgnoreEntry] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    entry: IgnoreEntry
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


def load_ignore_file(path: Path) -> IgnoreFile:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read ignore file {path}: {exc}") from None
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {exc.problem}", HINT) from None
    if data is None:
        return IgnoreFile(path, ())
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: the top level must be a mapping with an 'ignore' list", HINT)
    try:
        model = IgnoreFileModel.model_validate(plain_data(data))
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, data, exc), HINT) from None
    entries = data.get("ignore")
    rules = []
    for i, entry in enumerate(model.ignore):
        line = entries.lc.item(i)[0] + 1 if isinstance(entries, CommentedSeq) else 0
        rules.append(IgnoreRule(entry, f"{path}:{line}"))
    return IgnoreFile(path, tuple(rules))


def _format_errors(path: Path, data: CommentedMap, exc: ValidationError) -> str:
    lines = [f"{path}: invalid ignore file ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = line_of(data, loc)
        where = f"{path}:{line}" if line else str(path)
        if err["type"] == "extra_forbidden":
            model: type[BaseModel] = IgnoreEntry if len(loc) > 2 else IgnoreFileModel
            msg = f"unknown key {loc[-1]!r} (allowed here: {', '.join(model.model_fields)})"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if "input" in err and err["type"] != "missing" and not isinstance(err["input"], dict):
                msg += f" (got {err['input']!r})"
        lines.append(f"  {where}: {key_path(loc)}: {msg}")
    return "\n".join(lines)


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
