"""Sample images for the demo, built as OCI layouts and pushed with skopeo."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from patchwarden.devtools import oci_builder, skopeo


@dataclass(frozen=True)
class SampleTag:
    repo: str
    tag: str
    age_days: float = 60
    multi_arch: bool = False
    salt: str = ""


SOURCE = "https://github.com/example/patchwarden-demo"
SAMPLES: tuple[SampleTag, ...] = (
    *(
        SampleTag("library/node", t)
        for t in ("18-alpine", "18.19.0-alpine", "20-alpine", "20.11.1-alpine", "20-bookworm")
    ),
    SampleTag("library/node", "21-alpine", age_days=20),
    SampleTag("library/node", "22.0.0-rc1-alpine", age_days=2),
    *(
        SampleTag("library/nginx", t, multi_arch=True)
        for t in ("1.24.0", "1.25.3", "1.25.4", "1.26.0", "stable")
    ),
    *(SampleTag("library/redis", t) for t in ("7.2.3", "7.2.4", "7.4.0", "8.0.0")),
    *(SampleTag("library/postgres", t) for t in ("15.5", "15.6")),
    SampleTag("library/postgres", "16.2", age_days=1),
    *(SampleTag("library/busybox", t) for t in ("1.36.0", "1.36.1", "latest")),
    *(SampleTag("acme/api", t) for t in ("v1.2.0", "v1.3.0", "v2.0.0-beta.1")),
    SampleTag("acme/worker", "v2.0.1"),
)
# Re-pushed after the sample repository pinned its digest: the tag now points elsewhere.
REPUSHED = (SampleTag("acme/worker", "v2.0.1", salt="rebuilt"),)


def _created(age_days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=age_days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_and_push(sample: SampleTag, workdir: Path, host: str) -> str:
    """Build one sample tag in its own OCI layout, push it, return the pushed digest."""
    layout = workdir / "layouts" / sample.repo.replace("/", "_")
    labels = {
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.version": sample.tag,
    }
    salt = f"{sample.repo}:{sample.tag}:{sample.salt}"
    files = {"etc/demo-release": f"{sample.repo} {sample.tag} {sample.salt}\n".encode()}
    if sample.multi_arch:
        digest = oci_builder.build_index(
            layout,
            sample.tag,
            ("linux/amd64", "linux/arm64"),
            created=_created(sample.age_days),
            labels=labels,
            salt=salt,
        )
    else:
        digest = oci_builder.build_image(
            layout,
            sample.tag,
            created=_created(sample.age_days),
            labels=labels,
            salt=salt,
            files=files,
        )
    skopeo.push(layout, sample.tag, f"{host}/{sample.repo}:{sample.tag}")
    return digest
