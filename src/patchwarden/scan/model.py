"""What the scanner produces and the seams it is built from.

Flow: an :class:`ImageSource` lists layers and opens each layer's blob; the layer reader makes
ONE streaming pass per layer, hands the files a :class:`Cataloger` wants to it, and records the
layer's whiteouts; the per-file :class:`FileFacts` of all layers are merged (upper layers win,
whiteouts and opaque directories delete) into packages attributed to the layer that introduced
them. :class:`LayerFacts` are cached per layer digest and cataloger versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO, Protocol


class PackageType(StrEnum):
    DEB = "deb"
    APK = "apk"
    RPM = "rpm"
    PYTHON = "python"
    NPM = "npm"
    GO = "go"  # Go modules and the Go standard library ("stdlib") found in Go binaries
    JAVA = "java"  # Maven artifacts found in JARs


@dataclass(frozen=True, slots=True)
class OSInfo:
    id: str  # os-release ID: debian, ubuntu, alpine, rhel, rocky, almalinux, fedora, ...
    version_id: str | None  # os-release VERSION_ID: "12", "22.04", "3.19.1", "9.3"
    pretty_name: str | None = None
    version_codename: str | None = None
    id_like: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PackageFact:
    """A package as one file reveals it (no layer yet)."""

    name: str
    version: str
    type: PackageType
    purl: str
    source_name: str | None = None  # dpkg Source:, apk origin, rpm source rpm name
    source_version: str | None = None
    arch: str | None = None
    namespace: str | None = None  # Maven groupId
    licenses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What catalogers learned from one file."""

    packages: tuple[PackageFact, ...] = ()
    owned_paths: tuple[str, ...] = ()  # files an OS package manager owns (dedup of language pkgs)
    os: OSInfo | None = None
    problems: tuple[str, ...] = ()  # what could not be read: the scan shows them as warnings


def unreadable(path: str, exc: BaseException) -> FileFacts:
    """A cataloger never raises on content: it reports what it could not read, and why."""
    return FileFacts(problems=(f"could not read {path} ({type(exc).__name__}: {exc})",))


@dataclass(frozen=True, slots=True)
class LayerFacts:
    """Everything the scanner keeps from one layer; JSON-serializable, cached by digest."""

    digest: str  # the layer blob digest (compressed), as in the manifest
    diff_id: str | None
    files: dict[str, FileFacts] = field(default_factory=dict)  # path -> facts (paths: no '/')
    whiteouts: tuple[str, ...] = ()  # paths deleted by this layer (.wh.NAME)
    opaque_dirs: tuple[str, ...] = ()  # dirs whose lower content this layer hides (.wh..wh..opq)
    entries: int = 0  # tar entries seen (for reporting)
    warnings: tuple[str, ...] = ()  # skipped oversized files, cataloger failures (scanner-added)
    # hard links to a catalogued file of the same layer: link path -> target path. The link's
    # own entry in ``files`` is empty (the same file is never catalogued twice); the merge hands
    # the target's facts to a surviving link when an upper layer removes the target.
    links: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Package:
    """A package in the final image, with the layer that introduced it and the file it is from."""

    name: str
    version: str
    type: PackageType
    purl: str
    layer: str  # layer blob digest
    path: str  # the file it was found in (no leading '/')
    source_name: str | None = None
    source_version: str | None = None
    arch: str | None = None
    namespace: str | None = None
    licenses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file the layer reader hands to a cataloger. ``data`` is the whole content (capped)."""

    path: str  # normalized, relative, no leading '/'
    data: bytes
    mode: int
    size: int


class Cataloger(Protocol):
    """Finds packages in files. Listed explicitly in ``scan/catalogers/__init__.py``.

    ``wants`` is called for every regular file in every layer, so it must be cheap (look at
    the path, mode and size only). ``catalog`` must never raise for bad content: it returns
    empty facts (a corrupt METADATA is not a crash). Bump ``version`` whenever the output for
    the same input changes: it is part of the per-layer cache key.
    """

    name: str
    version: int

    def wants(self, path: str, mode: int, size: int) -> bool: ...

    def catalog(self, entry: FileEntry) -> FileFacts: ...


@dataclass(frozen=True, slots=True)
class LayerRef:
    digest: str  # blob digest as in the manifest (what is downloaded and verified)
    media_type: str
    size: int
    diff_id: str | None = None  # uncompressed digest from the image config


@dataclass(frozen=True, slots=True)
class ImageInfo:
    name: str  # what the user asked for, e.g. "nginx:1.25" or "archive:img.tar"
    digest: str | None  # manifest digest when known
    platform: str | None
    layers: tuple[LayerRef, ...]
    config: dict[str, object] = field(default_factory=dict)  # the image config JSON


class ImageSource(Protocol):
    """Where an image's layers come from: a registry, a docker/OCI archive, a layout, a rootfs."""

    def describe(self) -> ImageInfo: ...

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        """The raw (possibly compressed) blob. The reader verifies its digest while streaming."""
        ...


@dataclass(frozen=True, slots=True)
class ScanInventory:
    image: ImageInfo
    os: OSInfo | None
    packages: tuple[Package, ...]
    layers: tuple[LayerFacts, ...]


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self.value]


_SEVERITY_RANK = {"unknown": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


class UnknownSeverity(StrEnum):
    """How ``--fail-on`` and the gates treat a finding no source rates
    (``advisories.unknown_severity``)."""

    BLOCK = "block"  # as severe as any threshold: an unrated finding fails the gate
    ALLOW = "allow"  # below every threshold: an unrated finding never fails it


def at_least(severity: Severity, threshold: Severity, unknown: UnknownSeverity) -> bool:
    """Whether a finding of ``severity`` meets ``threshold`` (``--fail-on``, gates)."""
    if severity is Severity.UNKNOWN and threshold is not Severity.UNKNOWN:
        return unknown is UnknownSeverity.BLOCK
    return severity.rank >= threshold.rank


class FindingStatus(StrEnum):
    FIXED = "fixed"  # an upgrade exists: fixed_version
    NO_FIX = "no-fix"  # affected, no fixed version yet
    WILL_NOT_FIX = "will-not-fix"  # the distro decided not to fix
    NOT_AFFECTED = "not-affected"


@dataclass(frozen=True, slots=True)
class Finding:
    id: str  # preferred id: the CVE when there is one, else the record id
    aliases: tuple[str, ...]  # every other id of the same vulnerability (merged records)
    package: Package
    installed_version: str  # the binary package's version, as installed
    fixed_version: str | None  # the version that fixes every merged record (in the records' terms)
    status: FindingStatus
    severity: Severity
    ecosystem: str  # OSV ecosystem matched, e.g. "Debian:12", "PyPI"
    summary: str = ""
    cvss_score: float | None = None
    severity_source: str = ""  # "distro", "cvss_v3", "database_specific", ...
    records: tuple[str, ...] = ()  # the OSV record ids that produced this finding (sorted, once)
    url: str | None = None
    # the version the records were matched against when it is not the installed one: the
    # SOURCE package's version for deb/apk (Debian, Ubuntu and Alpine records name sources)
    matched_version: str | None = None
    fixed_versions: tuple[str, ...] = ()  # every fixed version the records name, oldest first
