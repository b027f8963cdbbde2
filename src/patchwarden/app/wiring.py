"""The composition root: the one module that turns configuration into concrete objects.

Registry clients, the caching registry, checkers, the scanner and its layer cache, the advisory
index, container engine clients, the state store and forge clients are built here and nowhere
else; ``cli/`` calls a ``build_*`` function and renders what the use case returns. Heavy
libraries (httpx, pydantic, SQLAlchemy, the docker SDK) are imported inside the builder that
needs them: start-up is part of every command's cost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from patchwarden.cache.registry import CachingRegistry
from patchwarden.cache.store import DiskCache, default_cache_dir
from patchwarden.core.timing import span
from patchwarden.registry.model import Platform
from patchwarden.registry.settings import ClientOptions, HostSettings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.app.check.checker import Checker
    from patchwarden.app.check.vulns import VulnAssessor
    from patchwarden.app.effects import EffectGuard
    from patchwarden.app.live.gate import Probes
    from patchwarden.app.live.model import ContainerLocks, StepFn
    from patchwarden.app.live.updater import LiveUpdater
    from patchwarden.app.patch import Patcher
    from patchwarden.app.promote import Promoter
    from patchwarden.app.rebuild import DueChecker, Rebuilder
    from patchwarden.app.rebuild.scanning import IndexScanner
    from patchwarden.app.rollout.registry_target import Promotions
    from patchwarden.app.rollout.service import Rollouts
    from patchwarden.app.scan.ignore import IgnoreRule
    from patchwarden.app.scan.pipeline import ImagePipeline
    from patchwarden.app.trust.gate import CheckGate
    from patchwarden.app.trust.policy import TrustGate
    from patchwarden.app.trust.signer import KeySigners
    from patchwarden.app.trust.verifier import Verifier
    from patchwarden.app.update.updater import UpdateOptions, Updater
    from patchwarden.apply.forge.model import Forge
    from patchwarden.config.registries import RegistryConfig
    from patchwarden.config.schema import Config
    from patchwarden.core.ref import ImageRef
    from patchwarden.queue.model import Executor
    from patchwarden.registry.client import RegistryClient
    from patchwarden.registry.ratelimit import RateLimiter
    from patchwarden.scan.layer_cache import LayerCache, SharedBlobs
    from patchwarden.scan.scanner import Scanner
    from patchwarden.store.db import Store


# -- registries --------------------------------------------------------------------------------
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
        mirrors=tuple(rc.mirrors),
        connect_timeout=_seconds(rc.timeout.connect) if rc.timeout else None,
        read_timeout=_seconds(rc.timeout.read) if rc.timeout else None,
        request_timeout=_seconds(rc.timeout.overall) if rc.timeout else None,
    )


def _seconds(limit: timedelta | None) -> float | None:
    return None if limit is None else limit.total_seconds()


def client_options(config: Config) -> ClientOptions:
    """Options of every registry: the platform and the top-level ``timeout``."""
    t, default = config.timeout, ClientOptions()
    return ClientOptions(
        default_platform=Platform.parse(config.platform),
        connect_timeout=_seconds(t.connect) or default.connect_timeout,
        read_timeout=_seconds(t.read) or default.read_timeout,
        request_timeout=_seconds(t.overall) or default.request_timeout,
    )


def build_client(config: Config | None) -> RegistryClient:
    """The registry client; ``None`` (no config file): credentials from the usual places
    (Docker config, environment) and no per-registry settings, without loading pydantic."""
    from patchwarden.registry.client import RegistryClient

    if config is None:
        return RegistryClient()
    hosts = {host: host_settings(host, rc) for host, rc in config.registries.items()}
    return RegistryClient(hosts, options=client_options(config), limiter=build_rate_limiter(config))


def _cache_root(config: Config | None, cache_dir: Path | None, use_cache: bool) -> Path | None:
    """Where the on-disk cache lives, or None when it is off (``--no-cache``, ``cache.enabled``).
    ``config`` None means there is no config file: the schema's defaults (cache on, in the user
    cache directory)."""
    if not use_cache or (config is not None and not config.cache.enabled):
        return None
    configured = config.cache.dir if config is not None else None
    return cache_dir or (Path(configured).expanduser() if configured else default_cache_dir())


def build_registry(
    config: Config,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    fresh_tags: bool = False,
    client: RegistryClient | None = None,
) -> CachingRegistry:
    """``fresh_tags``: tag lists are asked for once per run and never served from disk (a
    live updater must see a tag pushed a minute ago); content addressed by digest still is."""
    root = _cache_root(config, cache_dir, use_cache)
    disk = DiskCache(root) if root is not None else None
    tag_ttl = timedelta(0) if fresh_tags else config.cache.tag_ttl
    return CachingRegistry(client or build_client(config), disk, tag_ttl)


# -- scanning ----------------------------------------------------------------------------------
def _layer_cache(
    config: Config | None,
    cache_dir: Path | None,
    use_cache: bool,
    shared: SharedBlobs | None = None,
) -> LayerCache | None:
    from patchwarden.scan.layer_cache import LayerCache

    root = _cache_root(config, cache_dir, use_cache)
    return LayerCache(root / "layers", shared) if root is not None else None


def build_scanner(
    config: Config | None,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    shared: SharedBlobs | None = None,
) -> Scanner:
    """``shared``: the fleet's layer facts (``store.shared.SharedContent``) behind the local
    cache."""
    from patchwarden.scan.catalogers import CATALOGERS
    from patchwarden.scan.limits import Limits
    from patchwarden.scan.scanner import Scanner

    cache = _layer_cache(config, cache_dir, use_cache, shared)
    return Scanner(CATALOGERS, cache=cache, limits=Limits.from_env())


def build_scan_pipeline(
    config: Config | None, *, cache_dir: Path | None = None, use_cache: bool = True
) -> ImagePipeline:
    """The ``scan`` pipeline. ``config`` None: no config file, the built-in defaults apply."""
    from patchwarden.app.scan.pipeline import ImagePipeline

    return ImagePipeline(
        build_scanner(config, cache_dir=cache_dir, use_cache=use_cache),
        lambda: build_client(config),  # httpx and the client load only for registry targets
        configured_db=config.advisories.db_path if config is not None else None,
        advisories=config.advisories if config is not None else None,
    )


def build_vuln_assessor(
    config: Config,
    client: RegistryClient,
    *,
    db: Path | None,
    cache_dir: Path | None,
    use_cache: bool,
) -> VulnAssessor:
    """Scan registry images with the built-in scanner and match them against the local index;
    the ignore file (``.patchwarden-vulnignore.yaml`` in the working directory) applies."""
    from patchwarden.advisories.dbpath import resolve_db_path
    from patchwarden.advisories.errors import missing_index
    from patchwarden.advisories.freshness import refresh_if_stale
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.advisories.match import match
    from patchwarden.app.check.vulns import VulnAssessor
    from patchwarden.app.scan.ignore import apply_ignores
    from patchwarden.scan.model import Finding, UnknownSeverity
    from patchwarden.scan.sources import open_source

    path = resolve_db_path(db, config.advisories.db_path)
    if not path.is_file():
        raise missing_index(path, ", or pass --db PATH")
    index = AdvisoryIndex(path, upgrade=config.advisories.auto_update)
    warnings = [w for w in [refresh_if_stale(index, config.advisories)] if w]
    ignores, more = _ignore_rules()
    warnings += more
    scanner = build_scanner(config, cache_dir=cache_dir, use_cache=use_cache)
    lock = threading.Lock()

    def scan(image: ImageRef, platform: Platform) -> list[Finding]:
        source = open_source("registry", str(image), registry=client, platform=platform)
        inventory = scanner.scan(source)
        with lock:  # one SQLite connection, shared by the checking threads
            found: list[Finding] = match(index, inventory.packages, inventory.os)
        return list(apply_ignores(found, ignores, date.today()).kept)

    unknown = UnknownSeverity(config.advisories.unknown_severity)
    return VulnAssessor(scan, unknown, warnings)


def _ignore_rules() -> tuple[tuple[IgnoreRule, ...], list[str]]:
    """The working directory's ignore file: its rules, and warnings for expired entries."""
    from patchwarden.app.scan.ignore import expired_message, find_ignore_file

    path = find_ignore_file(None, Path.cwd())
    if path is None:
        return (), []
    from patchwarden.app.scan.ignore_file import load_ignore_file

    rules = load_ignore_file(path).rules
    today = date.today()
    return rules, [expired_message(r) for r in rules if r.expired(today)]


# -- check and update --------------------------------------------------------------------------
def build_checker(
    config: Config,
    *,
    vulns: bool = False,
    db: Path | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    state: str | None = None,
    drift: bool = True,
    fresh_tags: bool = False,
    concurrency: int | None = None,
) -> Checker:
    """The checker as ``check``, ``update`` and ``engine update`` use it (``--vulns``: with
    vulnerability facts). With ``drift``, what floating tags pointed at is kept in the state
    store ``state`` (default: ``$PATCHWARDEN_STATE``, else the user data dir), opened only if
    such a tag is checked. ``concurrency`` None: the configured ``concurrency``."""
    from patchwarden.app.check.checker import Checker
    from patchwarden.app.check.drift import StoreTagMemory
    from patchwarden.config.policies import PolicyResolver

    def open_state() -> Store:
        return build_store(state)

    client = build_client(config)
    registry = build_registry(
        config, cache_dir=cache_dir, use_cache=use_cache, fresh_tags=fresh_tags, client=client
    )
    assessor = None
    if vulns:
        assessor = build_vuln_assessor(
            config, client, db=db, cache_dir=cache_dir, use_cache=use_cache
        )
    return Checker(
        registry,
        PolicyResolver(config),
        concurrency=config.concurrency if concurrency is None else concurrency,
        default_platform=Platform.parse(config.platform),
        vulns=assessor,
        tags=StoreTagMemory(open_state) if drift else None,
        trust=build_check_gate(config),
    )


def build_forge(
    repo: Path, *, remote: str, url: str | None, kind: str | None, api_url: str | None
) -> Forge:
    """The forge client for ``url``, or for the URL of ``remote`` in the repository at ``repo``
    (the token from the forge's environment variable)."""
    from patchwarden.apply.forge.detect import forge_for
    from patchwarden.apply.git import Repo

    if not url:
        git = Repo.discover(repo)
        url = git.git("remote", "get-url", remote, what=f"read the URL of remote {remote}").strip()
    return forge_for(url, kind=kind, api_url=api_url, token=None)


def build_updater(
    checker: Checker,
    repo: Path,
    options: UpdateOptions,
    *,
    forge: Forge | None,
    effects: EffectGuard | None = None,
) -> Updater:
    """The ``update`` use case, reading image facts for pull-request bodies through the
    checker's (caching) registry; ``effects``: pushes and pull requests once (serve)."""
    from patchwarden.app.update.updater import Updater, registry_facts

    facts = registry_facts(checker.registry, checker.default_platform)
    return Updater(repo, options, facts=facts, forge=forge, effects=effects)


# -- live containers ---------------------------------------------------------------------------
def build_store(state: str | None) -> Store:
    """The state store (update history, tag digests): a path, ``sqlite:///PATH`` or a
    PostgreSQL URL; created and migrated as needed."""
    from patchwarden.store import open_store

    return open_store(state)


def existing_store(state: str | None) -> Store | None:
    """The state store if it exists (reading history must not create one), else None."""
    from patchwarden.store import open_existing_store

    return open_existing_store(state)


def build_live_updater(
    *,
    engine_url: str | None,
    state: str | None,
    probes: Probes,
    stop_timeout: int,
    hook_timeout: float,
    concurrency: int = 1,
    keep_images: int | None = None,
    on_step: StepFn | None = None,
    check_writable: bool = True,
    command: str = "engine update",
) -> LiveUpdater:
    """A live updater on the container engine at ``engine_url`` (connected and answering),
    recording into the state store ``state``. With ``check_writable`` the store is checked
    writable first, before the engine is even contacted: an update that could not be recorded
    is never made. Containers are locked in the store while acted on (``command`` names
    this run to the others)."""
    from patchwarden.app.live.updater import LiveUpdater
    from patchwarden.engine.client import connect
    from patchwarden.store.locks import run_owner

    store = build_store(state)
    if check_writable:
        store.check_writable()
    engine = connect(engine_url)
    return LiveUpdater(
        engine,
        store,
        locks=store.container_locks(engine.identity, run_owner(command)),
        probes=probes,
        stop_timeout=stop_timeout,
        hook_timeout=hook_timeout,
        concurrency=concurrency,
        keep_images=keep_images,
        on_step=on_step,
    )


# -- trust (signatures, allowed registries) -------------------------------------------------


def build_verifier(config: Config, client: RegistryClient | None = None) -> Verifier:
    """Signature checks read through an uncached client: signature tags are never cached."""
    from patchwarden.app.trust.bundles import BundleChecker
    from patchwarden.app.trust.gpg import lookaside_check
    from patchwarden.app.trust.verifier import Verifier

    client = client or build_client(config)
    return Verifier(client, gpg=lookaside_check, bundles=BundleChecker(client))


def build_trust_gate(config: Config, client: RegistryClient | None = None) -> TrustGate | None:
    """The fail-closed gate for ``trust:`` and ``registries.allowed``; None when neither is set."""
    from patchwarden.app.trust.policy import TrustGate, TrustPolicy

    policy = TrustPolicy(config.trust, config.allowed_registries)
    if not policy.active:
        return None
    return TrustGate(policy.load(), build_verifier(config, client))


def build_signers(config: Config, client: RegistryClient | None = None) -> KeySigners:
    """cosign-format signing: keys read on first use, password from
    ``PATCHWARDEN_SIGNING_PASSWORD`` or ``COSIGN_PASSWORD``; every signature is verified back."""
    from patchwarden.app.trust.signer import KeySigners
    from patchwarden.registry.writer import RegistryWriter
    from patchwarden.trust.signing import password_from_env

    c = client or build_client(config)
    return KeySigners(RegistryWriter(c), build_verifier(config, c), password_from_env())


def build_check_gate(config: Config) -> CheckGate | None:
    """The trust gate as ``check``, ``update`` and ``engine update`` apply it to candidates."""
    from patchwarden.app.trust.gate import CheckGate

    gate = build_trust_gate(config)
    return None if gate is None else CheckGate(gate)


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
    engine: str | None = None,
) -> Iterator[tuple[DueChecker, Rebuilder | None]]:
    """``rebuild``'s collaborators: the due checker, and (unless ``check_only``) the pipeline
    on buildah, podman and skopeo with a temporary auth file for the configured registries;
    with ``engine``, builds and test containers go through that Docker Engine API instead."""
    from patchwarden.app.check.checker import Checker
    from patchwarden.app.rebuild.due import DueChecker
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
        from patchwarden.app.rebuild.pipeline import Rebuilder, Tools
        from patchwarden.app.rebuild.tools import (
            BUILD_TIMEOUT_S,
            Buildah,
            Builder,
            Podman,
            Runner,
            Skopeo,
            auth_file,
        )
        from patchwarden.registry.client import RegistryClient

        creds, insecure = tool_access(config)
        scanner = None
        if scan_gate:
            scanner = build_index_scanner(
                config, registry, db=db, cache_dir=cache_dir, use_cache=use_cache
            )
        client = registry.inner
        if not isinstance(client, RegistryClient):
            raise TypeError("build the registry with build_registry()")
        with auth_file(creds) as authfile:
            builder: Builder = Buildah(authfile)
            runner: Runner = Podman()
            if engine is not None:
                from patchwarden.app.rebuild.engine_tools import EngineBuilder, EngineRunner
                from patchwarden.engine.build import EngineBuilds
                from patchwarden.engine.client import connect

                builds = EngineBuilds(connect(engine, timeout=BUILD_TIMEOUT_S))
                builder, runner = EngineBuilder(builds), EngineRunner(builds)
            tools = Tools(
                builder=builder,
                runner=runner,
                publisher=Skopeo(authfile, insecure),
                probe=http_status,
                insecure_hosts=insecure,
                signers=build_signers(config, client),
                discard=_discarder(client),
            )
            yield due, Rebuilder(registry, tools, scanner, store)


def _discarder(client: RegistryClient) -> Callable[[ImageRef, str], bool]:
    from patchwarden.registry.writer import RegistryWriter

    def discard(repo: ImageRef, digest: str) -> bool:
        RegistryWriter(client).delete_manifest(repo, digest)
        return True

    return discard


def build_rebuild_updater(
    config: Config,
    root: Path,
    mode: str,
    *,
    forge: tuple[str | None, str | None, str | None] = (None, None, None),
    cache_dir: Path | None,
    use_cache: bool,
) -> tuple[Updater, Callable[[ImageRef], object]]:
    """``rebuild --then update``: ``update``'s updater for the rebuild's directory, as far as
    ``mode`` goes (write, commit, push, pull-request; the forge from the remote ``origin``),
    and the manifest reader that verifies pins. ``forge``: kind, repository URL, API URL."""
    from patchwarden.app.update.updater import UpdateOptions, Updater, registry_facts

    registry = build_registry(config, cache_dir=cache_dir, use_cache=use_cache)
    pr = mode == "pull-request"
    options = UpdateOptions(
        commit=mode != "write",
        push=mode in ("push", "pull-request"),
        pull_request=pr,
        author=config.git.author,
    )
    kind, url, api = forge
    client = build_forge(root, remote="origin", url=url, kind=kind, api_url=api) if pr else None
    facts = registry_facts(registry, Platform.parse(config.platform))
    return Updater(root, options, facts=facts, forge=client), registry.get_manifest


def build_index_scanner(
    config: Config,
    registry: CachingRegistry,
    *,
    db: Path | None,
    cache_dir: Path | None,
    use_cache: bool,
) -> IndexScanner:
    """The rebuild scan gate: the scanner and the advisory index, reading images through the
    checker's registry client."""
    from patchwarden.advisories.dbpath import resolve_db_path
    from patchwarden.advisories.errors import missing_index
    from patchwarden.advisories.index import AdvisoryIndex
    from patchwarden.app.rebuild.scanning import IndexScanner
    from patchwarden.registry.client import RegistryClient

    path = resolve_db_path(db, config.advisories.db_path)
    if not path.is_file():
        raise missing_index(path, ", pass --db PATH, or set gates.new_vulnerabilities: off")
    client = registry.inner
    if not isinstance(client, RegistryClient):
        raise TypeError("build the registry with build_registry()")
    return IndexScanner(
        build_scanner(config, cache_dir=cache_dir, use_cache=use_cache),
        AdvisoryIndex(path, upgrade=config.advisories.auto_update),
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


def build_rollouts(
    config: Config,
    *,
    state: str | None = None,
    workdir: Path | None = None,
    actor: str = "unknown",
) -> Rollouts:
    """``rollout``: the state store, one engine client per environment URL, Prometheus, and
    for registry environments ``registry promote`` (built on first use)."""
    from patchwarden.app.rollout import Prometheus, Rollouts
    from patchwarden.app.rollout.candidate import choose
    from patchwarden.engine.client import EngineClient, connect
    from patchwarden.store import open_store

    with span("store.open"):
        store = open_store(state)

    def promotions() -> Promotions:
        from patchwarden.app.promote import Promoter
        from patchwarden.app.rollout.registry_target import RegistryPromotions
        from patchwarden.store.promotions import PromotionLog

        client = build_client(config)
        gate = build_trust_gate(config, client)
        promoter = Promoter(client, gate=gate, log=PromotionLog(store), actor=actor)
        return RegistryPromotions(client, promoter)

    engines: dict[str | None, EngineClient] = {}

    def engine(url: str | None) -> EngineClient:
        if url not in engines:
            with span("engine.connect"):
                engines[url] = connect(url)
        return engines[url]

    def locks(client: EngineClient) -> ContainerLocks | None:
        from patchwarden.store.locks import run_owner

        return store.container_locks(client.identity, run_owner("rollout"))

    return Rollouts(
        store.rollouts,
        store,
        list(config.environments),
        engines=engine,
        locks=locks,
        metrics=Prometheus(),
        workdir=str(workdir) if workdir else None,
        promotions=promotions,
        candidates=lambda image: choose(build_checker(config, state=state), image),
    )


# -- advisory index for serve's scan and advisory-refresh jobs ---------------------------------
def build_advisory_index(config: Config, *, create: bool = False) -> AdvisoryIndex | None:
    """The configured advisory index; None when it does not exist and ``create`` is False."""
    from patchwarden.advisories.dbpath import resolve_db_path

    path = resolve_db_path(None, config.advisories.db_path)
    if not create and not path.is_file():
        return None
    return open_advisory_index(path, create=create, upgrade=config.advisories.auto_update)


def open_advisory_index(
    path: Path, *, create: bool = False, upgrade: bool = False
) -> AdvisoryIndex:
    """The advisory index at ``path`` (``db``, ``version``); created when ``create``; one of
    an older schema upgraded in place when ``create`` or ``upgrade`` (auto_update)."""
    from patchwarden.advisories.index import AdvisoryIndex

    return AdvisoryIndex(path, create=create, upgrade=upgrade)


@contextmanager
def build_promoter(
    client: RegistryClient, gate: TrustGate | None, *, state: str | None, record: bool, actor: str
) -> Iterator[Promoter]:
    """``registry promote``: the copy with its trust gate, recorded in the state store's
    promotion log unless ``record`` is False (SQLAlchemy + Alembic cost ~0.3 s of start-up, paid
    only when recording). The store is closed when the block ends."""
    from patchwarden.app.promote import Promoter

    if not record:
        yield Promoter(client, gate=gate, log=None, actor=actor)
        return
    from patchwarden.store.promotions import PromotionLog

    store = build_store(state)
    try:
        yield Promoter(client, gate=gate, log=PromotionLog(store), actor=actor)
    finally:
        store.close()


def build_index_update(
    config: Config,
) -> Callable[[AdvisoryIndex], list[tuple[str, str, str | None]]]:
    """``db update`` of the configured ecosystems, as one call on an open index."""
    from patchwarden.advisories.update import update

    def run(index: AdvisoryIndex) -> list[tuple[str, str, str | None]]:
        results = update(
            index,
            config.advisories.ecosystems,
            base_url=config.advisories.base_url,
            max_bytes=config.advisories.max_download_mb * 1024 * 1024,
        )
        return [(r.ecosystem, r.mode, r.error.message if r.error else None) for r in results]

    return run


# -- the worker fleet (queue.broker_url) ---------------------------------------------------------
_redis_clients: dict[str, object] = {}
_redis_lock = threading.Lock()


def broker_url(config: Config) -> str | None:
    """``$PATCHWARDEN_BROKER_URL``, else ``queue.broker_url``; None: jobs run in process."""
    import os

    from patchwarden.config.queue import BROKER_ENV

    return os.environ.get(BROKER_ENV) or config.queue.broker_url


def state_url(config: Config, explicit: str | None = None) -> str | None:
    """``--state``, ``$PATCHWARDEN_STATE_URL``, ``state.url``, ``serve.state``; None: the
    store's own default (``$PATCHWARDEN_STATE``, then the user data directory)."""
    import os

    from patchwarden.config.queue import STATE_ENV

    return explicit or os.environ.get(STATE_ENV) or config.state.url or config.serve.state


def _redis(url: str) -> object:
    with _redis_lock:
        if url not in _redis_clients:
            import redis

            _redis_clients[url] = redis.Redis.from_url(
                url, socket_timeout=10, socket_connect_timeout=5
            )
        return _redis_clients[url]


def build_rate_limiter(config: Config) -> RateLimiter | None:
    """With a broker: the buckets in its Redis, shared by the fleet (429s included); without
    one, ``queue.rate_limits`` paces this process alone; neither: no limiter."""
    limits = {h: (r.rate, r.capacity) for h, r in config.queue.rate_limits.items()}
    url = broker_url(config)
    if url is not None:
        from patchwarden.queue.ratelimit import RedisTokenBucket

        return RedisTokenBucket(_redis(url), limits)
    if limits:
        from patchwarden.registry.ratelimit import LocalTokenBucket

        return LocalTokenBucket(limits)
    return None


def build_executor(
    config: Config, *, local: Callable[[], Executor], engine: Engine, jobs: frozenset[str]
) -> Executor:
    """Where ``serve`` sends job requests: its own threads (``local()``, the default), or the
    worker fleet when a broker is configured. The job code is the same."""
    url = broker_url(config)
    if url is None:
        return local()
    from patchwarden.queue.celery_app import make_celery
    from patchwarden.queue.executor import CeleryExecutor
    from patchwarden.store.tasks import TaskStore

    return CeleryExecutor(make_celery(config.queue, url), TaskStore(engine), jobs)
