"""Reading and validating the ignore file (``.patchwarden-vulnignore.yaml``); the rules it
holds are applied by :mod:`patchwarden.app.scan.ignore`. Kept apart so that a scan without an ignore
file does not load pydantic and ruamel.yaml."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from patchwarden.app.scan.ignore import HINT, IgnoreFile, IgnoreRule
from patchwarden.config.loader import key_path, line_of, plain_data, read_yaml
from patchwarden.errors import ConfigError


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


def load_ignore_file(path: Path) -> IgnoreFile:
    data = read_yaml(path, "ignore file", HINT)
    if data is None:
        return IgnoreFile(path, ())
    if not isinstance(data, CommentedMap):
        raise ConfigError(f"{path}: the top level must be a mapping with an 'ignore' list", HINT)
    try:
        model = IgnoreFileModel.model_validate(plain_data(data, source=path))
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
