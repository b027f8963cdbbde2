"""The one place that turns configuration into concrete collaborators."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.app.check.vulns import VulnAssessor
from patchwarden.cache.registry import CachingRegistry
from patchwarden.cache.store import DiskCache, default_cache_dir
from patchwarden.config.schema import Config, RegistryConfig
from patchwarden.core.ref import ImageRef
from patchwarden.errors import UsageError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.model import Platform
from patchwarden.registry.settings import ClientOptions, HostSettings

if TYPE_CHECKING:
    from patchwarden.app.check.checker import Checker
    from patchwarden.app.patch import Patcher
    from patchwarden.app.rebuild import DueChecker, Rebuilder
    from patchwarden.app.rebuild.scanning import IndexScanner
    from patchwarden.store import Store


def host_settings(host: str, rc: RegistryConfig) -> HostSettings:
    """``password_env`` is read when the registry is first asked for credentials (see
    :class:`~patchwarden.registry.credentials.ExplicitCredentials`), not here."""
    password = rc.password.get_secret_value() if rc.password is not None else None
    return HostSettings(
        insecure=rc.insecure,
        tls_verify=rc.tls_verify,
        ca_file=rc.ca_file,
        username=rc.username,
        password=password,
        max_concurrency=rc.max_concurrency,
        password_env=rc.password_env,
    )


def build_client(config: Config) -> RegistryClient:
    hosts = {host: host_settings(host, rc) for host, rc in config.registries.items()}
    options = ClientOptions(default_platform=Platform.parse(config.platform))
    return RegistryClient(hosts, options=options)


def build_registry(
    config: Config,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    fresh_tags: bool = False,
) -> CachingRegistry:
    """``fresh_tags``: tag lists are asked for once per run and never served from disk (a
    live updater must see a tag pushed a minute ago); content addressed by digest still is."""
    disk = None
    if use_cache and config.cache.enabled:
        root = cache_dir or (
            Path(config.cache.dir).expanduser() if config.cache.dir else default_cache_dir()
        )
        disk = DiskCache(root)
    tag_ttl = timedelta(0) if fresh_tags else config.cache.tag_ttl
    return CachingRegistry(build_client(config), disk, tag_ttl)


def build_vuln_assessor(
    config: Config,
    registry: CachingRegistry,
    *,
    db: Path | None,
    cache_dir: Path | None,
    use_cache: bool,
) -> VulnAssessor:
    """Scan registry images with the built-in scanner and match them against the local index."""
    from patchwarden.advisories.index import AdvisoryIndex, resolve_db_path
    from patchwarden.advisories.match import match
    from patchwarden.app.scan.run import NO_INDEX_HINT
    from patchwarden.scan.catalogers import CATALOGERS
    from patchwarden.scan.layer_cache import LayerCache
    from patchwarden.scan.model import Finding
    from patchwarden.scan.scanner import Scanner
    from patchwarden.scan.sources import open_source

    client = registry.inner
    assert isinstance(client, RegistryClient), "build the registry with build_registry()"
    path = resolve_db_path(db, config.advisories.db_path)
    if not path.is_file():
        raise UsageError(f"no advisory index found at {path}", NO_INDEX_HINT)
    index = AdvisoryIndex(path)
    layers = None
    if use_cache and config.cache.enabled:
        root = cache_dir or (
            Path(config.cache.dir).expanduser() if config.cache.dir else default_cache_dir()
        )
        layers = LayerCache(root / "layers")
    scanner = Scanner(CATALOGERS, cache=layers)
    lock = threading.Lock()

    def scan(image: ImageRef, platform: Platform) -> list[Finding]:
        source = open_source("registry", str(image), registry=client, platform=platform)
        inventory = scanner.scan(source)
        with lock:  # one SQLite connection, shared by the checking threads
            found: list[Finding] = match(index, inventory.packages, inventory.os)
        return found

    return VulnAssessor(scan)


def build_checker(
    config: Config,
    *,
    vulns: bool = False,
    db: Path | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    state: str | None = None,
) -> Checker:
    """The ``check`` engine as ``check`` and ``update`` use it (with ``--vulns`` when asked).
    What floating tags pointed at is kept in the state store ``state`` (default:
    ``$PATCHWARDEN_STATE``, else the user data dir), opened only if such a tag is checked."""
    from patchwarden.app.check.checker import Checker
    from patchwarden.app.check.drift import StoreTagMemory
    from patchwarden.config.policies import PolicyResolver

    def open_state() -> Store:
        from patchwarden.store import open_store

        return open_store(state)

    registry = build_registry(config, cache_dir=cache_dir, use_cache=use_cache)
    assessor = None
    if vulns:
        assessor = build_vuln_assessor(
            config, registry, db=db, cache_dir=cache_dir, use_cache=use_cache
        )
    return Checker(
        registry,
        PolicyResolver(config),
        concurrency=config.concurrency,
        default_platform=Platform.parse(config.platform),
        vulns=assessor,
        tags=StoreTagMemory(open_state),
    )


# -- rebuild ------------------------------------------------------------------------------


@contextmanager
def build_rebuild(
    config: Config,
    *,
    state: str | None,
    db: Path | None,
    cache_dir: Path | None,
    use_cache: bool,
    check_only: bool,
    scan_gate: bool = True,
) -> Iterator[tuple[DueChecker, Rebuilder | None]]:
    """``rebuild``'s collaborators: the due checker, and (unless ``check_only``) the pipeline
    on buildah, podman and skopeo with a temporary auth file for the configured registries."""
    from patchwarden.app.check.checker import Checker
    from patchwarden.app.rebuild import DueChecker, Rebuilder, Tools
    from patchwarden.app.rebuild.tools import Buildah, Podman, Skopeo, auth_file
    from patchwarden.config.policies import PolicyResolver
    from patchwarden.store import open_store

    registry = build_registry(config, cache_dir=cache_dir, use_cache=use_cache)
    platform = Platform.parse(config.platform)
    checker = Checker(
        registry, PolicyResolver(config), concurrency=config.concurrency, default_platform=platform
    )
    with open_store(state) as store:
        due = DueChecker(
            registry, store, checker, platform=platform, concurrency=config.concurrency
        )
        if check_only:
            yield due, None
            return
        creds, insecure = tool_access(config)
        scanner = None
        if scan_gate:
            scanner = build_index_scanner(
                config, registry, db=db, cache_dir=cache_dir, use_cache=use_cache
            )
        with auth_file(creds) as authfile:
            tools = Tools(
                builder=Buildah(authfile),
                runner=Podman(),
                publisher=Skopeo(authfile, insecure),
                probe=http_status,
                insecure_hosts=insecure,
            )
            yield due, Rebuilder(registry, tools, scanner, store)


def build_index_scanner(
    config: Config,
    registry: CachingRegistry,
    *,
    db: Path | None,
    cache_dir: Path | None,
    use_cache: bool,
) -> IndexScanner:
    from patchwarden.advisories.index import AdvisoryIndex, resolve_db_path
    from patchwarden.app.rebuild.scanning import IndexScanner
    from patchwarden.app.scan.run import NO_INDEX_HINT
    from patchwarden.scan.catalogers import CATALOGERS
    from patchwarden.scan.layer_cache import LayerCache
    from patchwarden.scan.scanner import Scanner

    path = resolve_db_path(db, config.advisories.db_path)
    if not path.is_file():
        raise UsageError(
            f"the scan gate needs the advisory index, and there is none at {path}",
            f"{NO_INDEX_HINT}; or set gates.new_vulnerabilities: off for the build",
        )
    layers = None
    if use_cache and config.cache.enabled:
        root = cache_dir or (
            Path(config.cache.dir).expanduser() if config.cache.dir else default_cache_dir()
        )
        layers = LayerCache(root / "layers")
    client = registry.inner
    assert isinstance(client, RegistryClient)
    return IndexScanner(
        Scanner(CATALOGERS, cache=layers),
        AdvisoryIndex(path),
        client,
        Platform.parse(config.platform),
    )


def tool_access(config: Config) -> tuple[dict[str, tuple[str, str]], frozenset[str]]:
    """Credentials (host -> user, password) and insecure hosts for buildah and skopeo."""
    hosts = {h: host_settings(h, rc) for h, rc in config.registries.items()}
    creds = {h: (s.username, s.password) for h, s in hosts.items() if s.username and s.password}
    insecure = frozenset(h for h, s in hosts.items() if s.insecure or not s.tls_verify)
    return creds, insecure


def http_status(url: str) -> int | None:
    """The status of a GET on ``url`` (a health probe), None when nothing answers."""
    import httpx

    from patchwarden.net.http import make_client

    try:
        with make_client(connect_timeout=2.0, read_timeout=5.0) as client:
            return client.get(url).status_code
    except httpx.HTTPError:
        return None


@contextmanager
def build_patcher(
    config: Config, *, db: Path | None, cache_dir: Path | None, use_cache: bool
) -> Iterator[Patcher]:
    """``patch``: the scanner and index, buildah working containers, skopeo for the push."""
    from patchwarden.app.patch import Patcher
    from patchwarden.app.rebuild.tools import Skopeo, auth_file

    registry = build_registry(config, cache_dir=cache_dir, use_cache=use_cache)
    scanner = build_index_scanner(config, registry, db=db, cache_dir=cache_dir, use_cache=use_cache)
    creds, insecure = tool_access(config)
    with auth_file(creds) as authfile:
        yield Patcher(
            registry,
            scanner,
            Skopeo(authfile, insecure),
            insecure_hosts=insecure,
            authfile=authfile,
        )
