"""Find, read and validate ``patchwarden.yaml`` with errors that name the key path and line."""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from patchwarden.config.locate import CONFIG_NAMES, ENV_CONFIG, find_config
from patchwarden.config.schema import Config
from patchwarden.errors import ConfigError

__all__ = ["CONFIG_NAMES", "ENV_CONFIG", "find_config", "load_config"]


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(
            f"{where}: malformed YAML: {exc.problem}", "fix the YAML syntax at that line"
        ) from None
    if data is None:
        return Config()
    if not isinstance(data, CommentedMap):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys (version, defaults, ...)"
        )
    try:
        return Config.model_validate(plain_data(data), context={"base_dir": str(path.parent)})
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, data, exc), "see docs/configuration.md") from None


def plain_data(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): plain_data(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain_data(v) for v in node]
    return node


def _format_errors(path: Path, data: CommentedMap, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = line_of(data, loc)
        where = f"{path}:{line}" if line else str(path)
        dotted = key_path(loc)
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(_allowed_keys(loc[:-1])))
            msg = f"unknown key {loc[-1]!r} (allowed here: {allowed})"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            secret = any(w in str(part) for part in loc for w in ("password", "secret", "token"))
            if "input" in err and err["type"] != "missing" and not secret:
                msg += f" (got {err['input']!r})" if not isinstance(err["input"], dict) else ""
        lines.append(f"  {where}: {dotted}: {msg}")
    return "\n".join(lines)


def key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def line_of(data: Any, loc: tuple[Any, ...]) -> int | None:
    node, line = data, None
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed in the mapping at ``loc`` (walks the pydantic model tree)."""
    annotation: Any = Config
    for part in loc:
        model = _inner_model(annotation)
        origin = typing.get_origin(annotation)
        if origin in (list, dict) or isinstance(part, int):
            annotation = typing.get_args(annotation)[-1] if typing.get_args(annotation) else None
        elif model is not None and str(part) in model.model_fields:
            annotation = model.model_fields[str(part)].annotation
            annotation = _strip_optional(annotation)
        else:
            return []
    model = _inner_model(annotation)
    return list(model.model_fields) if model is not None else []


def _strip_optional(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None
