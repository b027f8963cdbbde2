"""The reference sources, in claim order.

Claim rule: a file is read by exactly one source, the first in :data:`SOURCES` whose
``claims`` accepts it. The order goes from the most specific file-name rule to the most
general content rule, so a file never yields the same reference twice:

1. Dockerfile / Containerfile names
2. ``kustomization.yaml`` (it also has ``apiVersion``/``kind``, but is not a workload)
3. ``devcontainer.json``
4. GitHub Actions workflows (``.github/workflows/*.yml``) and ``action.yml``
5. GitLab CI (``.gitlab-ci.yml``, ``*.gitlab-ci.yml``)
6. Compose file names (and files named in ``discovery.compose_files``, see ``discover``)
7. Helm values files (they may also contain ``image:`` strings: Helm reads those itself)
8. Helm chart templates (Go templates, read line by line)
9. any other YAML with top-level ``apiVersion`` and ``kind``, or JSON with those keys
   (Kubernetes, custom resources included)
"""

from __future__ import annotations

from pathlib import Path

from patchwarden.refs._common import YAML_SUFFIXES
from patchwarden.refs.ci import GitHubActionsSource, GitLabCISource
from patchwarden.refs.compose import ComposeSource
from patchwarden.refs.devcontainer import DevcontainerSource
from patchwarden.refs.dockerfile import DockerfileSource, is_dockerfile_name
from patchwarden.refs.helm import HelmSource
from patchwarden.refs.helm_templates import HelmTemplateSource
from patchwarden.refs.kubernetes import KubernetesSource
from patchwarden.refs.kustomize import KUSTOMIZATION_NAMES, KustomizeSource
from patchwarden.refs.model import ReferenceSource

SOURCES: tuple[ReferenceSource, ...] = (
    DockerfileSource(),
    KustomizeSource(),
    DevcontainerSource(),
    GitHubActionsSource(),
    GitLabCISource(),
    ComposeSource(),
    HelmSource(),
    HelmTemplateSource(),
    KubernetesSource(),
)


def is_candidate_name(name: str) -> bool:
    """Whether some source might claim a file of this name (decides whether it is read)."""
    return (
        is_dockerfile_name(name)
        or name.lower().endswith((*YAML_SUFFIXES, ".json"))
        or name in KUSTOMIZATION_NAMES
    )


COMPOSE = SOURCES[5]


def source_for(path: Path, text: str, *, compose: bool = False) -> ReferenceSource | None:
    """The source that reads ``path``; ``compose`` forces the Compose reader (a file named in
    ``discovery.compose_files``)."""
    if compose:
        return COMPOSE
    for source in SOURCES:
        if source.claims(path, text):
            return source
    return None
