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


OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 11 (bullseye)"\nID=debian\nVERSION_ID="11"\n'
CURL = "7.74.0-1.3+deb11u{}"
ZLIB = "1:1.2.11.dfsg-2+deb11u{}"
OPENSSL = "1.1.1n-0+deb11u{}"
# Package versions per sample tag, chosen against the bundled advisories (demo/data/osv):
# older tags carry versions that DSA-5330-1, DSA-5365-1, DSA-5218-1 and DSA-5343-1 fix.
PACKAGES: dict[str, dict[str, str]] = {
    "library/nginx:1.24.0": {"curl": CURL.format(3), "zlib1g": ZLIB.format(1)},
    "library/nginx:1.25.3": {"curl": CURL.format(3), "zlib1g": ZLIB.format(1)},
    "library/nginx:1.25.4": {"curl": CURL.format(5), "zlib1g": ZLIB.format(1)},
    "library/nginx:1.26.0": {"curl": CURL.format(7), "zlib1g": ZLIB.format(2)},
    "library/redis:7.2.3": {"libssl1.1": OPENSSL.format(3)},
    "library/redis:7.2.4": {"libssl1.1": OPENSSL.format(4)},
    "library/redis:7.4.0": {"libssl1.1": OPENSSL.format(4)},
    "library/redis:8.0.0": {"libssl1.1": OPENSSL.format(4)},
}
_SOURCES = {"zlib1g": "zlib", "libssl1.1": "openssl"}


def dpkg_status(packages: dict[str, str]) -> bytes:
    paragraphs = []
    for name, version in sorted(packages.items()):
        source = f"Source: {_SOURCES[name]}\n" if name in _SOURCES else ""
        paragraphs.append(
            f"Package: {name}\nStatus: install ok installed\nArchitecture: amd64\n{source}"
            f"Version: {version}\n"
        )
    return "\n".join(paragraphs).encode()


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
    packages = PACKAGES.get(f"{sample.repo}:{sample.tag}")
    if packages:
        files |= {"etc/os-release": OS_RELEASE, "var/lib/dpkg/status": dpkg_status(packages)}
    if sample.multi_arch:
        digest = oci_builder.build_index(
            layout,
            sample.tag,
            ("linux/amd64", "linux/arm64"),
            created=_created(sample.age_days),
            labels=labels,
            salt=salt,
            files=files,
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
