"""create_config on real inspect documents captured from Podman 4.3's Docker-compatible API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from patchwarden.engine.spec import create_config

HERE = Path(__file__).parent


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((HERE / name).read_text())
    return data


def test_plain_container_keeps_what_the_user_configured_and_drops_image_defaults() -> None:
    doc = _load("podman_inspect.json")
    image_cfg = _load("podman_image_config.json")

    body = create_config(doc, "reg/web:2", old_image_config=image_cfg, labels={"x.new": "1"})

    assert body["Image"] == "reg/web:2"
    assert body["Env"] == ["X=1"]  # not PATH (image), TERM/container/HOSTNAME (engine)
    assert body["Labels"] == {"a": "b", "x.new": "1"}
    assert "Cmd" not in body and "Entrypoint" not in body  # inherited: the new image decides
    assert "Hostname" not in body  # the engine's short container ID
    assert "WorkingDir" not in body
    host = body["HostConfig"]
    assert host["PortBindings"] == {"8080/tcp": [{"HostIp": "", "HostPort": "18089"}]}
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["Binds"] == ["/tmp/pwtest/vol:/data:rw"]
    assert host["LogConfig"] == {"Type": "json-file", "Config": None}
    assert {"Name": "nofile", "Soft": 1024, "Hard": 1024} in host["Ulimits"]
    assert host["NetworkMode"] == "bridge"
    assert "NetworkingConfig" not in body and not body.get("_extra_networks")


def test_rich_container_keeps_every_field() -> None:
    doc = _load("podman_inspect_rich.json")
    image_cfg = _load("podman_image_config.json")

    body = create_config(doc, "reg/web:2", old_image_config=image_cfg)

    assert body["Entrypoint"] == ["/bin/busybox"]
    assert body["Cmd"] == ["httpd", "-f", "-p", "8080", "-h", "/www"]
    assert body["User"] == "1000:1000"
    assert body["WorkingDir"] == "/www"
    assert body["Hostname"] == "web1"
    assert body["Env"] == ["MODE=prod"]
    assert body["Labels"] == {"team": "payments"}
    assert body["Healthcheck"]["Test"][0] == "CMD" and body["Healthcheck"]["Retries"] == 2
    host = body["HostConfig"]
    assert host["PortBindings"]["8080/tcp"][0] == {"HostIp": "127.0.0.1", "HostPort": "18091"}
    assert host["RestartPolicy"]["Name"] == "always"
    assert host["Memory"] == 67108864 and host["NanoCpus"] == 500000000
    assert sorted(host["Binds"]) == ["/tmp/pwtest/vol:/ro:ro", "pwvol:/data:rw"]
    # Podman reports NetworkMode "bridge" for a user network: the network decides
    assert host["NetworkMode"] == "pwnet"
    endpoints = body["NetworkingConfig"]["EndpointsConfig"]
    assert endpoints == {"pwnet": {"Aliases": ["web", "frontend"]}}  # not the old short ID


def test_values_equal_to_the_old_image_are_inherited_not_configured() -> None:
    doc = _load("podman_inspect_rich.json")
    image_cfg = dict(
        _load("podman_image_config.json"), User="1000:1000", Labels={"team": "payments"}
    )

    body = create_config(doc, "reg/web:2", old_image_config=image_cfg)

    assert "User" not in body and "Labels" not in body


def test_extra_networks_are_connected_after_create() -> None:
    doc = _load("podman_inspect_rich.json")
    doc["NetworkSettings"]["Networks"]["backend"] = {"Aliases": ["api"]}

    body = create_config(doc, "reg/web:2")

    assert list(body["NetworkingConfig"]["EndpointsConfig"]) == ["backend"]
    assert body["_extra_networks"] == {"pwnet": {"Aliases": ["web", "frontend"]}}


def test_restart_policy_no_and_empty_values_are_left_to_the_engine() -> None:
    doc = _load("podman_inspect.json")
    doc["HostConfig"]["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
    doc["HostConfig"]["Memory"] = 0

    host = create_config(doc, "i")["HostConfig"]

    assert "RestartPolicy" not in host and "Memory" not in host and "CapAdd" not in host
