"""`registries.<host>.mirrors`: reads go to the pull-through mirror first (real registries,
skopeo-pushed images); a mirror that lacks the image, fails or serves content that does not
match its digest is skipped and the registry itself answers."""

from __future__ import annotations

import uuid

import pytest

from patchwarden.app.wiring import build_client
from patchwarden.config.schema import Config
from patchwarden.core.ref import parse_reference
from patchwarden.devtools import skopeo
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.registry.model import Platform

pytestmark = pytest.mark.integration


def test_reads_through_mirror_and_falls_back(
    plain_registry: RegistryServer, htpasswd_registry: RegistryServer, pusher: Pusher
) -> None:
    upstream, mirror = htpasswd_registry, plain_registry
    ns = f"m{uuid.uuid4().hex[:6]}"
    digest = pusher.image(upstream, f"{ns}/app", "1.0", salt=ns)
    other = pusher.image(upstream, f"{ns}/app", "2.0", salt=ns + "2")
    # the mirror holds 1.0 under a prefix, as a pull-through cache would
    skopeo._run(
        [
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            f"{upstream.username}:{upstream.password}",
            f"docker://{upstream.host}/{ns}/app:1.0",
            f"docker://{mirror.host}/hub/{ns}/app:1.0",
        ],
        (upstream.password,),
    )
    with RegistryProxy(upstream.host) as up_proxy, RegistryProxy(mirror.host) as mir_proxy:
        cfg = Config.model_validate(
            {
                "registries": {
                    up_proxy.host: {
                        "username": upstream.username,
                        "password": upstream.password,
                        "mirrors": [f"{mir_proxy.host}/hub"],
                    }
                }
            }
        )
        with build_client(cfg) as client:
            ref = parse_reference(f"{up_proxy.host}/{ns}/app:1.0")
            assert client.head_manifest(ref).digest == digest
            cfg_blob = client.image_config(ref, Platform.parse("linux/amd64"))
            assert cfg_blob.os == "linux"
            assert up_proxy.count("HEAD", "manifests") == 0 and up_proxy.count("GET", "blobs") == 0
            # not on the mirror: the registry itself answers
            assert client.head_manifest(ref.with_tag("2.0")).digest == other
            assert up_proxy.count("HEAD", "manifests") >= 1  # 401 challenge, then with auth
            assert client.stats.snapshot()["mirror_fallback"] == 1
        # the mirror serves a manifest that does not match its digest: skipped
        mir_proxy.corrupt(r"/manifests/")
        with build_client(cfg) as client:
            m = client.get_manifest(ref.with_digest(digest))
            assert m.digest == digest
            assert client.stats.snapshot()["mirror_fallback"] == 1
