"""Image references in Kubernetes manifests (YAML and JSON), built-in kinds and custom resources.

A YAML file is claimed when it has top-level ``apiVersion:`` and ``kind:`` keys (checked on the
text, so a malformed manifest is still claimed and reported); a ``.json`` file when it has
``"apiVersion"`` and ``"kind"`` keys. Every document is walked as a whole, whatever its kind:

* every ``image`` key whose value is a string, wherever it sits: the ``containers``,
  ``initContainers`` and ``ephemeralContainers`` of any pod spec at any path (Deployments,
  CronJobs, Argo Rollouts ``Rollout``/``AnalysisTemplate``/``Experiment``, OLM
  ``ClusterServiceVersion`` install deployments, ...), and the image fields that custom
  resources name ``image`` (OLM ``spec.relatedImages[].image``, operator-sdk scorecard
  ``stages[].tests[].image``, Tekton ``steps[].image``, Argo Workflows ``container.image``,
  KubeVirt ``containerDisk.image``, Prometheus-operator ``spec.image``);
* the OLM ``metadata.annotations.containerImage`` annotation;
* ``kind: List`` (and ``*List``) items are read object by object.

``CustomResourceDefinition`` documents (schemas) are not parsed, nor is any document whose
text has no ``image`` key: a 3 MB file of CRD schemas costs a text search, not a parse.
Documents are parsed one by one, so one malformed document does not hide the others.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from patchwarden.refs._common import (
    EMPTY_REASON,
    YAML_SUFFIXES,
    Found,
    YamlProblem,
    make_reference,
    split_documents,
)
from patchwarden.refs._nodes import (
    NULL_TAG,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    compose_documents,
    compose_wanted,
    get,
    items,
    pos,
    text_of,
)
from patchwarden.refs.model import RefKind, Skipped

# Every pattern starts with a literal, so a multi-megabyte file is searched at memchr speed
# (a leading "^" with re.M is tried at every position: ~0.2 s per MB).
_API_VERSION = re.compile(r"\napi[Vv]ersion\s*:")  # scorecard configs write "apiversion"
_KIND = re.compile(r"\nkind\s*:")
_JSON_API_VERSION = re.compile(r'"apiVersion"\s*:')
_JSON_KIND = re.compile(r'"kind"\s*:')
_IMAGE_KEY = re.compile(r"""mage["']?[ \t]*:""")  # image:, containerImage:, "image":
_CRD_KIND = re.compile(r"\nkind:[ \t]*[\"']?CustomResourceDefinition\b")
_JSON_IMAGE = re.compile(r'"(image|containerImage)"\s*:\s*"((?:[^"\\]|\\.)*)"')
NOT_STRING_MAP_REASON = (
    "image is a map in this custom resource (registry/repository/tag fields); not read"
)
# Kinds that never run an image, though their text may say "image" (schemas, free-form data).
SKIPPED_KINDS = frozenset({"CustomResourceDefinition", "ConfigMap", "Secret"})


_JSON_PATCH = re.compile(r"\n- op:[ \t]*[\"']?(?:add|replace)\b")
_IMAGE_LINE = re.compile(
    r"""^(?P<lead>\s*(?:-\s+)?["']?image["']?\s*:\s*)["']?(?P<value>[^\s"'#]+)"""
)
MALFORMED_LINE_REASON = "read line by line: the document around it is not valid YAML"


def looks_like_manifest(path: Path, text: str) -> bool:
    name = path.name.lower()
    if name.endswith(YAML_SUFFIXES):
        padded = "\n" + text  # the patterns expect a newline before a top-level key
        if bool(_API_VERSION.search(padded)) and bool(_KIND.search(padded)):
            return True
        return bool(_JSON_PATCH.search(padded)) and "value:" in text
    if name.endswith(".json"):
        return bool(_JSON_API_VERSION.search(text)) and bool(_JSON_KIND.search(text))
    return False


def may_hold_image(chunk: str) -> bool:
    """The cheap text test deciding whether a YAML document is worth parsing."""
    if not _IMAGE_KEY.search(chunk):
        return False
    return "CustomResourceDefinition" not in chunk or not _CRD_KIND.search("\n" + chunk)


EMBEDDED_KEYS = frozenset({"patch"})


def embedded_documents(value: Node, lines: list[str]) -> list[Node]:
    """The documents of a literal block scalar (``|``) holding YAML or JSON with an image,
    composed from the file's own lines so that every position is the file's."""
    if not isinstance(value, ScalarNode) or value.style != "|" or "image" not in value.value:
        return []
    first = value.start_mark.line + 1  # the line after the "|" indicator
    end = value.end_mark.line + (1 if value.end_mark.column else 0)  # exclusive
    body = "\n".join(lines[first:end])
    try:
        return compose_documents("\n" * first + body)
    except YamlProblem:
        return []


class KubernetesSource:
    kind = RefKind.KUBERNETES
    _lines: list[str] = []  # noqa: RUF012 - set per file by for_text; never mutated

    def claims(self, path: Path, text: str) -> bool:
        return looks_like_manifest(path, text)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        if rel_path.lower().endswith(".json"):
            return self._json(rel_path, text)
        docs, problems = compose_wanted(rel_path, text, self.kind, may_hold_image)
        found: list[Found] = list(problems)
        walker = self.for_text(text)
        for doc in docs:
            if isinstance(doc, SequenceNode):
                walker._json_patch(rel_path, doc, found)
            else:
                walker._document(rel_path, doc, "", found)
        for problem in problems:
            found.extend(self._line_scan(rel_path, text, problem.line))
        return sorted(found, key=lambda f: (f.line, f.column))

    def for_text(self, text: str) -> KubernetesSource:
        """A walker for one file (it keeps the file's lines for embedded manifests)."""
        walker = KubernetesSource()
        walker._lines = text.splitlines()
        return walker

    def _json_patch(self, rel_path: str, doc: SequenceNode, found: list[Found]) -> None:
        """A JSON 6902 patch file (kustomize ``patches``, operator-sdk scorecard patches):
        the ``value`` of each ``add``/``replace`` operation is walked for images."""
        for i, op in enumerate(doc.value):
            if text_of(get(op, "op")) not in ("add", "replace"):
                continue
            value = get(op, "value")
            where = f"[{i}] {text_of(get(op, 'path')) or ''}".rstrip()
            if value is not None:
                self._walk(rel_path, value, "JSON patch", where, found, set())

    def _line_scan(self, rel_path: str, text: str, bad_line: int) -> list[Found]:
        """``image:`` lines of the malformed document around ``bad_line`` (1-based), so a file
        with one broken document still shows its images (each with a note)."""
        chunks = split_documents(text)
        out: list[Found] = []
        for first, chunk in chunks:
            n = chunk.count("\n")
            if not first < bad_line <= first + n + 1:
                continue
            for offset, line in enumerate(chunk.splitlines()):
                m = _IMAGE_LINE.match(line)
                if m is None:
                    continue
                number, column = first + offset + 1, m.start("value") + 1
                ref = make_reference(
                    file=rel_path,
                    line=number,
                    column=column,
                    kind=self.kind,
                    image=m["value"],
                    context=MALFORMED_LINE_REASON,
                )
                out.append(ref)
        return out

    def _document(self, rel_path: str, doc: Node, prefix: str, found: list[Found]) -> None:
        if not isinstance(doc, MappingNode):
            return
        kind = text_of(get(doc, "kind"))
        if kind is None or kind in SKIPPED_KINDS:
            return
        if kind == "List" or kind.endswith("List"):
            listed = get(doc, "items")
            if isinstance(listed, SequenceNode):
                for i, item in enumerate(listed.value):
                    self._document(rel_path, item, f"{prefix}items[{i}] ", found)
            return
        meta = get(doc, "metadata")
        name = text_of(get(meta, "name")) if meta is not None else None
        owner = f"{prefix}{kind}/{name}" if name is not None else f"{prefix}{kind}"
        for key, value in items(doc):
            if key in ("apiVersion", "kind"):
                continue
            if key == "metadata":
                self._annotations(rel_path, value, owner, found)
                notes = get(value, "annotations")
                examples = get(notes, "alm-examples") if notes is not None else None
                if examples is not None:
                    self._embedded(rel_path, examples, owner, "alm-examples", found)
                continue
            self._walk(rel_path, value, owner, key, found, set())

    def _walk(
        self, rel_path: str, node: Node, owner: str, where: str, found: list[Found], seen: set[int]
    ) -> None:
        if id(node) in seen:
            return  # an alias of a node already visited: reported once, at its anchor
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(rel_path, item, owner, f"{where}[{i}]", found, seen)
            return
        if not isinstance(node, MappingNode):
            return
        for key, value in items(node):
            if key == "image":
                self._image(rel_path, node, value, owner, where, found)
            elif isinstance(value, MappingNode | SequenceNode):
                self._walk(rel_path, value, owner, f"{where}.{key}", found, seen)
            elif key in EMBEDDED_KEYS:
                self._embedded(rel_path, value, owner, f"{where}.{key}", found)

    def _embedded(
        self, rel_path: str, value: Node, owner: str, where: str, found: list[Found]
    ) -> None:
        """Manifests written inside a block scalar (kustomize ``patches[].patch: |``, OLM's
        ``alm-examples`` JSON): the scalar's own lines are parsed in place, so positions are
        those of the file and ``update`` edits them like any other value."""
        docs = embedded_documents(value, self._lines)
        for doc in docs:
            for i, item in enumerate(doc.value if isinstance(doc, SequenceNode) else [doc]):
                sub = f"{where}[{i}] " if isinstance(doc, SequenceNode) else f"{where} "
                self._document(rel_path, item, f"{owner} {sub}", found)

    def _image(
        self, rel_path: str, holder: Node, value: Node, owner: str, where: str, found: list[Found]
    ) -> None:
        line, column = pos(value)
        if isinstance(value, MappingNode):
            if get(value, "repository") is not None or get(value, "registry") is not None:
                text = f"{where}.image (map)"
                found.append(
                    Skipped(rel_path, line, text, NOT_STRING_MAP_REASON, self.kind, column)
                )
            return
        if not isinstance(value, ScalarNode):
            return
        image = text_of(value)
        if image is None:
            if value.tag == NULL_TAG:
                found.append(Skipped(rel_path, line, "", EMPTY_REASON, self.kind, column))
            else:
                reason = "image is not a string"
                found.append(Skipped(rel_path, line, str(value.value), reason, self.kind, column))
            return
        cname = text_of(get(holder, "name"))
        context = f"{owner} {where}"
        if cname is not None:
            context += f" ({cname})"
        found.append(
            make_reference(
                file=rel_path,
                line=line,
                column=column,
                kind=self.kind,
                image=image,
                context=context,
            )
        )

    def _annotations(self, rel_path: str, meta: Node, owner: str, found: list[Found]) -> None:
        notes = get(meta, "annotations")
        value = get(notes, "containerImage") if notes is not None else None
        image = text_of(value)
        if value is None or image is None:
            return
        line, column = pos(value)
        found.append(
            make_reference(
                file=rel_path,
                line=line,
                column=column,
                kind=self.kind,
                image=image,
                context=f"{owner} metadata.annotations.containerImage",
            )
        )

    def _json(self, rel_path: str, text: str) -> list[Found]:
        """JSON manifests: every ``"image": "<string>"`` (and ``containerImage``), by position.

        The file must be valid JSON; CRD documents are skipped like in YAML."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            return [Skipped(rel_path, 1, "", f"malformed JSON: {exc}", self.kind)]
        if isinstance(data, dict) and data.get("kind") in SKIPPED_KINDS:
            return []
        found: list[Found] = []
        starts = [0, *(m.end() for m in re.finditer("\n", text))]
        for m in _JSON_IMAGE.finditer(text):
            offset = m.start(2)
            line = _line_of(starts, offset)
            column = offset - starts[line - 1]  # 1-based column of the opening quote
            try:
                image = json.loads(f'"{m.group(2)}"')
            except ValueError:
                continue
            found.append(
                make_reference(
                    file=rel_path,
                    line=line,
                    column=column,
                    kind=self.kind,
                    image=image,
                    context=f"JSON manifest {m.group(1)}",
                )
            )
        return found


def _line_of(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if starts[mid] <= offset:
            lo = mid
        else:
            hi = mid
    return lo + 1
