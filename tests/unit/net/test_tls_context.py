"""TLS contexts are built once per CA source and shared by the clients (a CA bundle costs
~50 ms of CPU to load; health gates build a client per container)."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

import certifi
import pytest

from patchwarden.net.http import _ca_env, _tls_context, make_client


def _ctx(client: object) -> ssl.SSLContext:
    pool = client._transport._pool  # type: ignore[attr-defined]
    ctx = pool._ssl_context
    assert isinstance(ctx, ssl.SSLContext)
    return ctx


def test_clients_share_one_context_per_ca_source(tmp_path: Path) -> None:
    with make_client() as a, make_client() as b:
        assert _ctx(a) is _ctx(b)
        assert _ctx(a).verify_mode == ssl.CERT_REQUIRED
    bundle = tmp_path / "ca.pem"
    shutil.copy(certifi.where(), bundle)
    with make_client(verify=str(bundle)) as c, make_client(verify=str(bundle)) as d:
        assert _ctx(c) is _ctx(d)
        assert _ctx(c) is not _ctx(a)


def test_a_replaced_ca_file_and_changed_environment_build_a_new_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    shutil.copy(certifi.where(), bundle)
    first = _tls_context(str(bundle), _ca_env(str(bundle)))
    st = bundle.stat()
    os.utime(bundle, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert _tls_context(str(bundle), _ca_env(str(bundle))) is not first
    default = _tls_context(True, _ca_env(True))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert _tls_context(True, _ca_env(True)) is not default


def test_verify_false_builds_no_context() -> None:
    with make_client(verify=False) as c:
        assert _ctx(c).verify_mode == ssl.CERT_NONE


def test_a_missing_ca_file_is_reported_when_the_client_is_built(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        make_client(verify=str(tmp_path / "missing.pem"))
