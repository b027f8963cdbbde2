"""Fast YAML reading for the sources that only need positions and scalar text.

PyYAML's composer (libyaml's C parser when present) gives the node graph with a start mark on
every node, about 30 times faster than ruamel's round-trip loader; no Python objects are
constructed, scalars keep the text they were written with (``tag: 1.20`` stays ``"1.20"``),
and the resolved tag still says whether a plain scalar is a string, a number or null.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from patchwarden.refs._common import (
    Found,
    YamlProblem,
    split_documents,
    yaml12_whitespace,
    yaml_problem_skip,
)
from patchwarden.refs.model import RefKind

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
STR_TAG = "tag:yaml.org,2002:str"
NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"

__all__ = [
    "MappingNode",
    "Node",
    "ScalarNode",
    "SequenceNode",
    "compose_wanted",
    "get",
    "items",
    "pos",
    "text_of",
]


def compose_documents(text: str) -> list[Node]:
    try:
        return [n for n in yaml.compose_all(yaml12_whitespace(text), Loader=_Loader) if n]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        col = mark.column + 1 if mark is not None else 0
        raise YamlProblem(line, col, str(exc.problem or exc.context or "error")) from exc
    except yaml.YAMLError as exc:
        raise YamlProblem(1, 0, f"{type(exc).__name__}: {exc}") from exc


def compose_wanted(
    file: str, text: str, kind: RefKind, wanted: Callable[[str], bool]
) -> tuple[list[Node], list[Found]]:
    """The documents whose text ``wanted`` accepts, composed one by one (positions are those
    of the whole file); a malformed document becomes a Skipped and the others are read."""
    docs: list[Node] = []
    problems: list[Found] = []
    for first_line, chunk in split_documents(text):
        if not wanted(chunk):
            continue
        try:
            docs.extend(compose_documents("\n" * first_line + chunk))
        except YamlProblem as problem:
            problems.append(yaml_problem_skip(file, problem, kind, chunk))
    return docs, problems


def items(node: Node) -> Iterator[tuple[str, Node]]:
    """A mapping's (key text, value node) pairs, merge keys (``<<``) followed."""
    if not isinstance(node, MappingNode):
        return
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.tag == MERGE_TAG:
            merged = value.value if isinstance(value, SequenceNode) else [value]
            for m in merged:
                yield from items(m)
            continue
        if isinstance(key, ScalarNode):
            yield key.value, value


def get(node: Node, key: str) -> Node | None:
    found = None
    for k, v in items(node):
        if k == key:
            found = v  # the last one wins, as in a loader that allows duplicates
    return found


def text_of(node: Node | None) -> str | None:
    """A scalar's text when it is a string (plain or quoted), else None."""
    if isinstance(node, ScalarNode) and node.tag == STR_TAG:
        return str(node.value)
    return None


def pos(node: Node) -> tuple[int, int]:
    """1-based (line, column) of a node's first character (a quote for quoted scalars)."""
    return node.start_mark.line + 1, node.start_mark.column + 1
