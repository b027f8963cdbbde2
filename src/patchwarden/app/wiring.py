"""The one place that turns configuration into concrete collaborators."""

from __future__ import annotations

import threading
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
    from patchwarden.app.rollout.service import Rollouts
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


def build_rollouts(
    config: Config, *, state: str | None = None, workdir: Path | None = None
) -> Rollouts:
    """``rollout``: the state store, one engine client per environment URL, Prometheus."""
    from patchwarden.app.rollout import Prometheus, Rollouts
    from patchwarden.engine.client import EngineClient, connect
    from patchwarden.store import open_store

    store = open_store(state)
    engines: dict[str | None, EngineClient] = {}

    def engine(url: str | None) -> EngineClient:
        if url not in engines:
            engines[url] = connect(url)
        return engines[url]

    return Rollouts(
        store.rollouts,
        store,
        list(config.environments),
        engines=engine,
        metrics=Prometheus(),
        workdir=str(workdir) if workdir else None,
    )
