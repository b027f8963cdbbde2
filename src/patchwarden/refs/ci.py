"""Image references in CI pipeline files: GitHub Actions workflows and GitLab CI.

GitHub Actions (``.github/workflows/*.yml|yaml``; ``action.yml|yaml`` of Docker actions):

* ``jobs.<id>.container`` (a string, or a map's ``image``);
* ``jobs.<id>.services.<name>.image`` (or the string form);
* ``jobs.<id>.steps[].uses: docker://IMAGE`` and an action's ``runs.image: docker://IMAGE``.

Expressions (``${{ matrix.image }}``) are evaluated by the runner: Skipped with that reason.

GitLab CI (``.gitlab-ci.yml`` and ``*.gitlab-ci.yml``): ``image`` and ``services`` (strings or
maps with ``name``) at the top level, in ``default:`` and in every job (hidden ``.template``
jobs too). ``$VAR``/``${VAR}`` are resolved from the file's top-level ``variables:``; a
variable GitLab sets at run time (``$CI_REGISTRY_IMAGE``) is Skipped with a reason; the
Dependency Proxy prefixes (``${CI_DEPENDENCY_PROXY_GROUP_IMAGE_PREFIX}/``, ...) stand for
Docker Hub.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from patchwarden.refs._common import (
    YAML_SUFFIXES,
    Found,
    display_pos,
    is_map,
    is_seq,
    load_or_skip,
    make_reference,
    non_string_image,
    value_pos,
)
from patchwarden.refs.model import RefKind, Skipped

EXPRESSION_REASON = "GitHub Actions expression (${{ ... }}) evaluated by the runner"
GITLAB_VARIABLE_REASON = (
    "variable {name} is set by GitLab at run time; its value is not in this file"
)
_DOCKER_PREFIX = "docker://"
_GITLAB_RESERVED = frozenset(
    {
        "stages",
        "variables",
        "include",
        "workflow",
        "cache",
        "before_script",
        "after_script",
        "image",
        "services",
        "default",
        "spec",
    }
)
_PROXY_PREFIX = re.compile(
    r"^\$\{?CI_DEPENDENCY_PROXY_(?:GROUP_IMAGE_PREFIX|DIRECT_GROUP_IMAGE_PREFIX)\}?/"
)
_GITLAB_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


def is_workflow(path: Path) -> bool:
    name = path.name.lower()
    if not name.endswith(YAML_SUFFIXES):
        return False
    parent = path.parent
    in_workflows = parent.name == "workflows" and parent.parent.name == ".github"
    return in_workflows or name in ("action.yml", "action.yaml")


def is_gitlab_ci(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml")) or name in (
        ".gitlab-ci.yml",
        ".gitlab-ci.yaml",
    )


def _ref(
    rel_path: str, node: Any, key: Any, kind: RefKind, context: str, resolved: str | None = None
) -> Found | None:
    line, column = display_pos(_seq_pos(node, key) if is_seq(node) else value_pos(node, key))
    value = node[key]
    if value is None:
        return None
    bad = non_string_image(rel_path, line, column, kind, value)
    if bad is not None:
        return bad
    image = str(value)
    if "${{" in image:
        return Skipped(rel_path, line, image, EXPRESSION_REASON, kind, column)
    return make_reference(
        file=rel_path,
        line=line,
        column=column,
        kind=kind,
        image=image,
        resolved=resolved,
        context=context,
    )


class GitHubActionsSource:
    kind = RefKind.GITHUB_ACTIONS

    def claims(self, path: Path, text: str) -> bool:
        return is_workflow(path)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        docs, problems = load_or_skip(rel_path, text, self.kind)
        found: list[Found] = list(problems)
        for doc in docs:
            if not is_map(doc):
                continue
            runs = doc.get("runs")
            if is_map(runs) and isinstance(runs.get("image"), str):
                self._docker_uses(rel_path, runs, "image", "runs.image", found)
            jobs = doc.get("jobs")
            if not is_map(jobs):
                continue
            for job_id, job in jobs.items():
                if is_map(job):
                    self._job(rel_path, str(job_id), job, found)
        return found

    def _job(self, rel_path: str, job_id: str, job: Any, found: list[Found]) -> None:
        where = f"jobs.{job_id}"
        container = job.get("container")
        if isinstance(container, str):
            self._add(found, _ref(rel_path, job, "container", self.kind, f"{where}.container"))
        elif is_map(container) and "image" in container:
            ctx = f"{where}.container.image"
            self._add(found, _ref(rel_path, container, "image", self.kind, ctx))
        services = job.get("services")
        if is_map(services):
            for name, svc in services.items():
                ctx = f"{where}.services.{name}"
                if isinstance(svc, str):
                    self._add(found, _ref(rel_path, services, name, self.kind, ctx))
                elif is_map(svc) and "image" in svc:
                    self._add(found, _ref(rel_path, svc, "image", self.kind, f"{ctx}.image"))
        steps = job.get("steps")
        if is_seq(steps):
            for i, step in enumerate(steps):
                if is_map(step) and isinstance(step.get("uses"), str):
                    self._docker_uses(rel_path, step, "uses", f"{where}.steps[{i}].uses", found)

    def _docker_uses(
        self, rel_path: str, node: Any, key: str, context: str, found: list[Found]
    ) -> None:
        value = str(node[key])
        if not value.startswith(_DOCKER_PREFIX):
            return  # an action (owner/repo@ref) or a Dockerfile path
        pos = value_pos(node, key)
        line, column = display_pos(pos)
        if pos is not None:
            column += _quote_offset(node, key) + len(_DOCKER_PREFIX)
        image = value[len(_DOCKER_PREFIX) :]
        if "${{" in image:
            found.append(Skipped(rel_path, line, image, EXPRESSION_REASON, self.kind, column))
            return
        found.append(
            make_reference(
                file=rel_path,
                line=line,
                column=column,
                kind=self.kind,
                image=image,
                context=context,
                parts=(("image", line, column),),
            )
        )

    @staticmethod
    def _add(found: list[Found], item: Found | None) -> None:
        if item is not None:
            found.append(item)


def _quote_offset(node: Any, key: str) -> int:
    """1 when the scalar is quoted (its text starts one column later), else 0."""
    style = getattr(node[key], "style", None)
    return 1 if style in ("'", '"') else 0


class GitLabCISource:
    kind = RefKind.GITLAB_CI

    def claims(self, path: Path, text: str) -> bool:
        return is_gitlab_ci(path)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        docs, problems = load_or_skip(rel_path, text, self.kind)
        found: list[Found] = list(problems)
        for doc in docs:
            if not is_map(doc):
                continue
            variables = doc.get("variables")
            env = {
                str(k): (v.get("value") if is_map(v) else v)
                for k, v in (variables.items() if is_map(variables) else ())
            }
            env = {k: v for k, v in env.items() if isinstance(v, str)}
            self._holder(rel_path, doc, "", env, found)
            default = doc.get("default")
            if is_map(default):
                self._holder(rel_path, default, "default.", env, found)
            for name, job in doc.items():
                if str(name) not in _GITLAB_RESERVED and is_map(job):
                    self._holder(rel_path, job, f"{name}.", env, found)
        return found

    def _holder(
        self, rel_path: str, node: Any, where: str, env: dict[str, str], found: list[Found]
    ) -> None:
        image = node.get("image")
        if is_map(image) and "name" in image:
            self._one(rel_path, image, "name", f"{where}image.name", env, found)
        elif "image" in node and not is_map(image):
            self._one(rel_path, node, "image", f"{where}image", env, found)
        services = node.get("services")
        if not is_seq(services):
            return
        for i, svc in enumerate(services):
            if is_map(svc) and "name" in svc:
                self._one(rel_path, svc, "name", f"{where}services[{i}].name", env, found)
            elif isinstance(svc, str):
                self._one(rel_path, services, i, f"{where}services[{i}]", env, found)

    def _one(
        self,
        rel_path: str,
        node: Any,
        key: Any,
        context: str,
        env: dict[str, str],
        found: list[Found],
    ) -> None:
        value = node[key]
        if not isinstance(value, str) or "$" not in value:
            item = _ref(rel_path, node, key, self.kind, context)
            if item is not None:
                found.append(item)
            return
        line, column = display_pos(value_pos(node, key) if is_map(node) else _seq_pos(node, key))
        resolved = _PROXY_PREFIX.sub("", value)
        for _ in range(5):  # variables may name variables; bounded
            m = _GITLAB_VAR.search(resolved)
            if m is None:
                break
            name = m.group(1) or m.group(2)
            if name not in env:
                reason = GITLAB_VARIABLE_REASON.format(name=name)
                found.append(Skipped(rel_path, line, value, reason, self.kind, column))
                return
            resolved = resolved[: m.start()] + env[name] + resolved[m.end() :]
        found.append(
            make_reference(
                file=rel_path,
                line=line,
                column=column,
                kind=self.kind,
                image=value,
                resolved=resolved,
                context=context,
            )
        )


def _seq_pos(seq: Any, index: int) -> tuple[int, int] | None:
    try:
        line, col = seq.lc.item(index)
    except (KeyError, TypeError, AttributeError):
        return None
    return int(line), int(col)
