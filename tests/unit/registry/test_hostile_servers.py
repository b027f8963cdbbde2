"""Registries that stall or lie, on loopback (devtools.hostile_registry: no real registry
misbehaves on demand, so a small server plays the part)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from patchwarden.core.ref import parse_reference
from patchwarden.devtools.hostile_registry import HostileRegistry
from patchwarden.errors import IntegrityError, RegistryError
from patchwarden.net.redact import forget_secrets
from patchwarden.registry import client as client_mod
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.credentials import EnvCredentials, env_prefix
from patchwarden.registry.settings import ClientOptions

BASE = ClientOptions(max_attempts=1, read_timeout=5.0)


def _client(options: ClientOptions = BASE) -> RegistryClient:
    return RegistryClient(options=options)


@pytest.mark.parametrize("mode", ["drip-headers", "drip-body"])
def test_a_dripping_registry_is_cut_off_at_the_request_deadline(mode: str) -> None:
    """One byte every 0.2 s never trips the 5 s read timeout; the overall deadline does."""
    with HostileRegistry(mode, drip=0.2, max_seconds=20) as reg:
        client = _client(replace(BASE, request_timeout=1.5))
        started = time.monotonic()
        with pytest.raises(RegistryError, match="deadline") as err:
            client.list_tags(parse_reference(f"{reg.host}/app"))
        took = time.monotonic() - started
        client.close()
    assert err.value.transient
    assert took < 6, took  # without the deadline: 20 s, then a broken-connection error


def test_a_dripping_blob_is_cut_off_by_the_rate_floor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "BLOB_GRACE", 0.5)
    with HostileRegistry("drip-body", drip=0.2, max_seconds=20) as reg:
        client = _client(replace(BASE, blob_min_rate=64 * 1024))
        ref = parse_reference(f"{reg.host}/app")
        started = time.monotonic()
        with (
            pytest.raises(RegistryError, match="timed out"),
            client.open_blob(ref, "sha256:" + "0" * 64) as stream,
        ):
            stream.read()
        client.close()
    assert time.monotonic() - started < 6


def test_huge_tag_list_and_manifest_hit_the_byte_caps() -> None:
    with HostileRegistry("huge-tags") as reg:
        client = _client(replace(BASE, read_timeout=60.0, max_tags_bytes=1024 * 1024))
        with pytest.raises(IntegrityError, match="limit"):
            client.list_tags(parse_reference(f"{reg.host}/app"))
        client.close()
    with HostileRegistry("huge-manifest") as reg:
        client = _client(replace(BASE, read_timeout=60.0))
        with pytest.raises(IntegrityError, match="limit"):
            client.get_manifest(parse_reference(f"{reg.host}/app:1"))
        client.close()


def test_credentials_echoed_in_an_error_body_are_never_in_the_error() -> None:
    forget_secrets()
    with HostileRegistry("echo") as reg:
        prefix = env_prefix(reg.host)
        env = {f"{prefix}USERNAME": "robot", f"{prefix}PASSWORD": "s3cr3t-Pa55"}
        client = RegistryClient(
            credentials=EnvCredentials(env), options=ClientOptions(max_attempts=1)
        )
        with pytest.raises(RegistryError) as err:
            client.list_tags(parse_reference(f"{reg.host}/app"))
        client.close()
    text = str(err.value)
    assert "debug: got" in text  # the body was read and shown ...
    for leak in ("s3cr3t-Pa55", "robot:s3cr3t", "cm9ib3Q6czNjcjN0LVBhNTU"):
        assert leak not in text  # ... without the password in any form
