"""The reference sources, in claim order.

Claim rule: a file is read by exactly one source, the first in :data:`SOURCES` whose
``claims`` accepts it. The order goes from the most specific file-name rule to the most
general content rule, so a file never yields the same reference twice:

1. Dockerfile / Containerfile names
2. ``kustomization.yaml`` (it also has ``apiVersion``/``kind``, but is not a workload)
3. Compose file names
4. Helm values files (they may also contain ``image:`` strings: Helm reads those itself)
5. Helm chart templates (Go templates, read line by line)
6. any other YAML with top-level ``apiVersion`` and ``kind`` (Kubernetes)
"""

from __future__ import annotations

from pathlib import Path

from patchwarden.refs._common import YAML_SUFFIXES
from patchwarden.refs.compose import ComposeSource
from patchwarden.refs.dockerfile import DockerfileSource, is_dockerfile_name
from patchwarden.refs.helm import HelmSource
from patchwarden.refs.helm_templates import HelmTemplateSource
from patchwarden.refs.kubernetes import KubernetesSource
from patchwarden.refs.kustomize import KUSTOMIZATION_NAMES, KustomizeSource
from patchwarden.refs.model import ReferenceSource

SOURCES: tuple[ReferenceSource, ...] = (
    DockerfileSource(),
    KustomizeSource(),
    ComposeSource(),
    HelmSource(),
    HelmTemplateSource(),
    KubernetesSource(),
)


def is_candidate_name(name: str) -> bool:
    """Whether some source might claim a file of this name (decides whether it is read)."""
    return (
        is_dockerfile_name(name)
        or name.lower().endswith(YAML_SUFFIXES)
        or name in KUSTOMIZATION_NAMES
    )


def source_for(path: Path, text: str) -> ReferenceSource | None:
    for source in SOURCES:
        if source.claims(path, text):
            return source
    return None
