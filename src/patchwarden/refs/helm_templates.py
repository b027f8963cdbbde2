"""Helm chart templates (``CHART/templates/**/*.yaml``): Go templates, not YAML.

They cannot be parsed as YAML, and their images normally come from the chart's values files
(read by :mod:`patchwarden.refs.helm`). So instead of one "malformed YAML" entry per file, each
``image:`` line is reported: a literal image is a reference; a templated one is skipped with a
reason that points at the values files.
"""

from __future__ import annotations

import re
from pathlib import Path

from patchwarden.refs._common import YAML_SUFFIXES, Found, is_templated, make_reference
from patchwarden.refs.model import RefKind, Skipped

_IMAGE_LINE = re.compile(r"^(?P<lead>\s*(?:-\s+)?image:\s*)(?P<value>.*?)\s*(?:\s#.*)?$")
REASON = "Helm chart template: the image is rendered from the chart's values (see values*.yaml)"


def is_chart_template(path: Path) -> bool:
    """A YAML file anywhere under a chart's ``templates/`` (``templates/tests/x.yaml`` too)."""
    if not path.name.lower().endswith(YAML_SUFFIXES):
        return False
    for parent in list(path.parents)[:6]:
        if parent.name == "templates" and (parent.parent / "Chart.yaml").is_file():
            return True
    return False


class HelmTemplateSource:
    kind = RefKind.HELM

    def claims(self, path: Path, text: str) -> bool:
        return is_chart_template(path)

    def extract(self, rel_path: str, text: str, *, path: Path | None = None) -> list[Found]:
        found: list[Found] = []
        for number, line in enumerate(text.splitlines(), start=1):
            m = _IMAGE_LINE.match(line)
            if m is None or not m["value"]:
                continue
            value = m["value"].strip().strip("'\"")
            column = m.start("value") + 1
            if is_templated(value):
                found.append(Skipped(rel_path, number, value, REASON, self.kind, column))
                continue
            found.append(
                make_reference(
                    file=rel_path,
                    line=number,
                    column=column,
                    kind=self.kind,
                    image=value,
                    context="chart template",
                )
            )
        return found
