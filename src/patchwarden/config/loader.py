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
from patchwarden.core.safe_read import read_regular
from patchwarden.errors import ConfigError

__all__ = ["CONFIG_NAMES", "ENV_CONFIG", "find_config", "load_config"]


MAX_FILE_BYTES = 1024 * 1024  # a config or ignore file; real ones are a few KiB
MAX_NODES = 100_000  # values after expanding aliases (an alias bomb expands exponentially)
MAX_DEPTH = 64


def read_yaml(path: Path, what: str, hint: str) -> Any:
    """Parse a small YAML file we are given (config, ignore file) with hard bounds: a regular
    file only (a FIFO never blocks), at most :data:`MAX_FILE_BYTES`; ``None`` when empty."""
    try:
        text = read_regular(path, MAX_FILE_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}", hint) from None
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {exc.problem}", hint) from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply", hint) from None


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    data = read_yaml(path, "config file", "fix the YAML syntax at that line")
    if data is None:
        return Config()
    if not isinstance(data, CommentedMap):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys (version, defaults, ...)"
        )
    try:
        return Config.model_validate(
            plain_data(data, source=path), context={"base_dir": str(path.parent)}
        )
    except ValidationError as exc:
        params = any(_job_params_loc(tuple(e["loc"])) for e in exc.errors())
        hint = (
            "docs/commands/serve.md lists the parameters of each job kind"
            if params
            else "see docs/configuration.md"
        )
        raise ConfigError(_format_errors(path, data, exc), hint) from None


def plain_data(node: Any, *, source: Path | None = None, max_nodes: int = MAX_NODES) -> Any:
    """Plain dicts/lists from a ruamel tree, refusing alias bombs: YAML aliases share one
    node, and expanding them can multiply a 600-byte file into gigabytes. At most
    ``max_nodes`` values after expansion, :data:`MAX_DEPTH` levels, no alias cycles."""
    budget = [max_nodes]
    where = f"{source}: " if source is not None else ""

    def bomb(what: str) -> ConfigError:
        return ConfigError(
            f"{where}refused: {what} (YAML anchors/aliases expanding without bound?)",
            "write the values out, or use fewer aliases; a config file never needs this",
        )

    def conv(n: Any, depth: int, path: tuple[int, ...]) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise bomb(f"more than {max_nodes} values after expanding aliases")
        if depth > MAX_DEPTH:
            raise bomb(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(n, dict | list):
            if id(n) in path:
                raise bomb("an alias refers to a node that contains it")
            inner = (*path, id(n))
            if isinstance(n, dict):
                return {str(k): conv(v, depth + 1, inner) for k, v in n.items()}
            return [conv(v, depth + 1, inner) for v in n]
        return n

    return conv(node, 0, ())


def _format_errors(path: Path, data: CommentedMap, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration ({exc.error_count()} problem(s)):"]
    for err in exc.errors():
        loc = tuple(err["loc"])
        line = line_of(data, loc)
        where = f"{path}:{line}" if line else str(path)
        dotted = key_path(loc)
        if err["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(_allowed_keys(loc[:-1]))) or "none"
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


def _job_params_loc(loc: tuple[Any, ...]) -> bool:
    """Whether ``loc`` is inside ``serve.jobs.<kind>.params``."""
    return len(loc) >= 4 and loc[:2] == ("serve", "jobs") and loc[3] == "params"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed in the mapping at ``loc`` (walks the pydantic model tree)."""
    if _job_params_loc(loc) and len(loc) == 4:  # a plain dict, checked per kind
        from patchwarden.config.jobparams import allowed_params

        return allowed_params(str(loc[2]))
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
