"""Turn a container's inspect document into the body that creates its twin on another image.

What the user configured is kept; what came from the *old image* is dropped so the new image's
defaults apply (an old ``PATH`` or ``Cmd`` must not pin the new image to old behaviour), as is
what the engine filled in itself (``HOSTNAME``, Podman's ``container=podman``, a hostname that is
the short container ID, the container's own ID as a network alias).
"""

from __future__ import annotations

from typing import Any

from patchwarden.core.digest import short_hex

# HostConfig keys copied as they are (when set: empty/zero values are engine defaults).
_HOST_KEYS = (
    "PortBindings",
    "RestartPolicy",
    "LogConfig",
    "NetworkMode",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "NanoCpus",
    "CpuShares",
    "CpuPeriod",
    "CpuQuota",
    "CpusetCpus",
    "CpusetMems",
    "PidsLimit",
    "CapAdd",
    "CapDrop",
    "Privileged",
    "ReadonlyRootfs",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "SecurityOpt",
    "Tmpfs",
    "ShmSize",
    "Devices",
    "Init",
    "PublishAllPorts",
    "GroupAdd",
    "Sysctls",
    "VolumesFrom",
    "Links",
)
_ENGINE_ENV = ("HOSTNAME=", "container=podman")
_DEFAULT_NETWORKS = {"bridge", "default", "podman", "host", "none", ""}


def create_config(
    inspect: dict[str, Any],
    image: str,
    *,
    old_image_config: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``POST /containers/create`` body for ``image`` with ``inspect``'s configuration.

    ``old_image_config`` is the old image's ``Config`` (from image inspect): values equal to it
    were inherited, not configured. ``labels`` are added on top of the container's labels.
    Networks beyond the first are returned under ``_extra_networks`` (connect before start).
    """
    cfg = inspect.get("Config") or {}
    host = inspect.get("HostConfig") or {}
    base = old_image_config or {}
    body: dict[str, Any] = {"Image": image}

    hostname = cfg.get("Hostname") or ""
    if hostname and not str(inspect.get("Id", "")).startswith(hostname):
        body["Hostname"] = hostname
    if cfg.get("Domainname"):
        body["Domainname"] = cfg["Domainname"]

    for key in ("User", "WorkingDir", "StopSignal"):
        value = cfg.get(key)
        if value and value != base.get(key) and not (key == "WorkingDir" and value == "/"):
            body[key] = value
    if cfg.get("StopSignal") in ("15", "SIGTERM") and not base.get("StopSignal"):
        body.pop("StopSignal", None)
    for key in ("Cmd", "Entrypoint"):
        value = cfg.get(key)
        if value and value != base.get(key):
            body[key] = value
    for key in ("Tty", "OpenStdin", "StdinOnce", "AttachStdin"):
        if cfg.get(key):
            body[key] = True

    inherited_env = set(base.get("Env") or [])
    env = [
        e
        for e in cfg.get("Env") or []
        if e not in inherited_env
        and not e.startswith(_ENGINE_ENV)
        and not (e == "TERM=xterm" and not cfg.get("Tty"))
    ]
    if env:
        body["Env"] = env

    base_labels = base.get("Labels") or {}
    merged = {k: v for k, v in (cfg.get("Labels") or {}).items() if base_labels.get(k) != v}
    merged.update(labels or {})
    if merged:
        body["Labels"] = merged

    health = cfg.get("Healthcheck")
    if health and health.get("Test") and health != base.get("Healthcheck"):
        body["Healthcheck"] = health
    exposed: dict[str, Any] = {
        p: {} for p in cfg.get("ExposedPorts") or {} if p not in (base.get("ExposedPorts") or {})
    }
    if exposed:
        body["ExposedPorts"] = exposed

    host_cfg: dict[str, Any] = {k: host[k] for k in _HOST_KEYS if host.get(k)}
    if host_cfg.get("RestartPolicy", {}).get("Name") in ("", "no"):
        host_cfg.pop("RestartPolicy")
    if (host_cfg.get("LogConfig") or {}).get("Type") in ("", None):
        host_cfg.pop("LogConfig", None)
    if host.get("Ulimits"):
        host_cfg["Ulimits"] = [_ulimit(u) for u in host["Ulimits"]]
    binds = _binds(inspect)
    if binds:
        host_cfg["Binds"] = binds
    body["HostConfig"] = host_cfg

    networks = dict((inspect.get("NetworkSettings") or {}).get("Networks") or {})
    mode = str(host.get("NetworkMode") or "")
    user_nets = {n: e for n, e in networks.items() if n not in _DEFAULT_NETWORKS}
    if user_nets:
        ordered = sorted(user_nets, key=lambda n: (n != mode, n))
        first, rest = ordered[0], ordered[1:]
        short = short_hex(str(inspect.get("Id", "")))
        endpoints = {n: _endpoint(user_nets[n], short) for n in ordered}
        body["NetworkingConfig"] = {"EndpointsConfig": {first: endpoints[first]}}
        body["_extra_networks"] = {n: endpoints[n] for n in rest}
        if mode in _DEFAULT_NETWORKS:
            host_cfg["NetworkMode"] = first
    return body


def _endpoint(endpoint: dict[str, Any] | None, short_id: str) -> dict[str, Any]:
    aliases = [a for a in (endpoint or {}).get("Aliases") or [] if a != short_id]
    return {"Aliases": aliases} if aliases else {}


def _ulimit(u: dict[str, Any]) -> dict[str, Any]:
    name = str(u.get("Name", ""))
    if name.upper().startswith("RLIMIT_"):
        name = name[len("RLIMIT_") :].lower()
    return {"Name": name, "Soft": u.get("Soft"), "Hard": u.get("Hard")}


def _binds(inspect: dict[str, Any]) -> list[str]:
    """Bind mounts and named volumes as ``SRC:DEST:MODE`` (anonymous volumes by their name,
    so the data carries over to the new container)."""
    out = []
    for m in inspect.get("Mounts") or []:
        mode = "rw" if m.get("RW", True) else "ro"
        if m.get("Type") == "bind":
            out.append(f"{m['Source']}:{m['Destination']}:{mode}")
        elif m.get("Type") == "volume" and m.get("Name"):
            out.append(f"{m['Name']}:{m['Destination']}:{mode}")
    return out
