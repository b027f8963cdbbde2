from __future__ import annotations

import json
from pathlib import Path

import pytest

from patchwarden.engine.client import EngineClient, resolve_url
from patchwarden.engine.info import info_from_inspect, repo_digest
from patchwarden.registry.credentials import Credentials

HERE = Path(__file__).parent


def test_info_from_a_container_started_by_digest() -> None:
    doc = json.loads((HERE / "podman_inspect.json").read_text())

    info = info_from_inspect(doc)

    assert info.name == "t1" and info.running and info.health is None
    assert info.digest == doc["Config"]["Image"].rsplit("@", 1)[1]
    ref = info.image_ref()
    assert ref is not None and ref.digest == info.digest and ref.tag is None


def test_info_digest_comes_from_the_matching_repo_digest() -> None:
    doc = json.loads((HERE / "podman_inspect_rich.json").read_text())
    doc["Config"]["Image"] = "127.0.0.1:5000/web:1.0.0"
    image = {
        "RepoDigests": [
            "docker.io/library/other@sha256:" + "a" * 64,
            "127.0.0.1:5000/web@sha256:" + "b" * 64,
        ]
    }

    info = info_from_inspect(doc, lambda _id: image)

    assert info.digest == "sha256:" + "b" * 64
    assert info.digests == ("sha256:" + "b" * 64,) and not info.local_build
    assert info.health == "starting"  # it has a HEALTHCHECK that has not run yet
    assert repo_digest(image, "nginx") is None


def test_every_repo_digest_of_the_repository_is_known() -> None:
    doc = json.loads((HERE / "podman_inspect_rich.json").read_text())
    doc["Config"]["Image"] = "127.0.0.1:5000/web:1.0.0"
    b, c = "sha256:" + "b" * 64, "sha256:" + "c" * 64
    image = {"RepoDigests": [f"127.0.0.1:5000/web@{b}", f"127.0.0.1:5000/web@{c}"]}

    info = info_from_inspect(doc, lambda _id: image)

    assert info.digests == (b, c) and info.known_digests == (b, c) and info.digest == b


def test_an_image_without_repo_digests_is_a_local_build() -> None:
    doc = json.loads((HERE / "podman_inspect_rich.json").read_text())
    doc["Config"]["Image"] = "localhost/app:1"

    info = info_from_inspect(doc, lambda _id: {"Id": "x", "RepoDigests": []})

    assert info.local_build and info.digest is None and info.known_digests == ()


@pytest.mark.parametrize("image", ["sha256:" + "c" * 64, "c" * 64, "0123456789ab"])
def test_containers_started_from_an_image_id_have_no_reference(image: str) -> None:
    doc = json.loads((HERE / "podman_inspect.json").read_text())
    doc["Config"]["Image"] = image

    assert info_from_inspect(doc).image_ref() is None


def test_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert resolve_url(None) == "unix:///var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/podman/podman.sock")
    assert resolve_url(None) == "unix:///run/podman/podman.sock"
    assert resolve_url("tcp://h:2376") == "tcp://h:2376"


class _Creds:
    def get(self, host: str) -> Credentials | None:
        if host == "ghcr.io":
            return Credentials("alice", "s3cret")
        if host == "quay.io":
            return Credentials(identity_token="tok")
        return None


def test_auth_config_from_registry_credentials() -> None:
    client = EngineClient("unix:///nowhere", credentials=_Creds(), api=object())

    assert client._auth_config("ghcr.io") == {
        "username": "alice",
        "password": "s3cret",
        "serveraddress": "ghcr.io",
    }
    assert client._auth_config("quay.io") == {"identitytoken": "tok", "serveraddress": "quay.io"}
    assert client._auth_config("docker.io") is None


@pytest.mark.parametrize(
    ("image", "local"),
    [("localhost/app:1", True), ("localhost:5000/app:1", False), ("127.0.0.1:5000/app:1", False)],
)
def test_podman_local_images_are_local_builds_by_name(image: str, local: bool) -> None:
    """Podman lists a RepoDigest even for an image built or committed on the host; its local
    images live under ``localhost/`` (a registry on loopback has a port)."""
    doc = json.loads((HERE / "podman_inspect_rich.json").read_text())
    doc["Config"]["Image"] = image
    name = image.rpartition(":")[0]
    info = info_from_inspect(doc, lambda _id: {"RepoDigests": [f"{name}@sha256:{'d' * 64}"]})

    assert info.is_local_build is local


class _RemovedMeanwhile:
    """Stand-in for the docker SDK's APIClient (no engine runs in unit tests): two containers
    listed, one of them removed before its inspect, answered as Podman 4.3 does (HTTP 500)."""

    def __init__(self, doc: dict[str, object]) -> None:
        self.doc = doc

    def containers(self, all: bool = True) -> list[dict[str, str]]:
        return [{"Id": "gone"}, {"Id": str(self.doc["Id"])}]

    def inspect_container(self, ref: str) -> dict[str, object]:
        import docker.errors

        if ref == "gone":
            raise docker.errors.APIError(
                "500 Server Error",
                explanation="container gone does not exist in database: no such container",
            )
        return self.doc

    def inspect_image(self, ref: str) -> dict[str, object]:
        return {"Id": "sha256:" + "0" * 64, "RepoDigests": []}


def test_a_container_removed_between_list_and_inspect_is_left_out() -> None:
    doc = json.loads((HERE / "podman_inspect.json").read_text())
    client = EngineClient("unix:///nowhere", api=_RemovedMeanwhile(doc))
    assert [c.id for c in client.list_containers()] == [doc["Id"]]


def test_only_podmans_gone_answers_count_as_not_found() -> None:
    import docker.errors

    from patchwarden.engine.errors import EngineError, NotFoundError, _errors

    gone = "container x does not exist in database: no such container"
    with pytest.raises(NotFoundError), _errors("inspecting container x"):
        raise docker.errors.APIError("500 Server Error", explanation=gone)
    with pytest.raises(EngineError) as caught, _errors("starting container x"):
        raise docker.errors.APIError("500 Server Error", explanation="port is already allocated")
    assert not isinstance(caught.value, NotFoundError)
    assert "the engine refused: port is already allocated" in caught.value.message
