"""The test sessions' own Podman set-up: a container that exits by itself is cleaned up.

Podman's ``container cleanup`` (run by conmon when a container's process ends) refuses a run
root longer than 50 characters; the API service does not. With pytest-xdist's deeper temp paths
that made every self-exited container keep its port forwarding, so a replacement on the same
host port was unreachable (a rollback's health gate failed only under xdist).
"""

from __future__ import annotations

import time
from pathlib import Path

from patchwarden.devtools.registry_server import RegistryServer
from testkit.podman import push_web_image, short_runroot
from testkit.rollout_setup import Fleet, engine, engine_url, fleet, layouts, wait_http

__all__ = ["engine", "engine_url", "fleet", "layouts"]  # fixtures used by name


def test_the_run_root_stays_short_for_deep_work_directories(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 80) / "popen-gw12" / "podman0"
    deep.mkdir(parents=True)
    run = short_runroot(deep)
    assert len(str(run)) <= 50 and run.is_dir()
    assert short_runroot(deep) == run, "one run root per work directory"
    assert short_runroot(tmp_path) != run


def test_a_container_that_exits_by_itself_is_cleaned_up_and_frees_its_port(
    engine_url: str, plain_registry: RegistryServer, layouts: Path, fleet: Fleet
) -> None:
    repo = f"exits-{fleet.prefix}"
    dies = ["/bin/sh", "-c", "/bin/busybox httpd -f -p 8080 -h /www & sleep 2; exit 4"]
    push_web_image(layouts, plain_registry.host, repo, "1.0.0", version="v1", cmd=dies)
    push_web_image(layouts, plain_registry.host, repo, "1.0.1", version="v2")
    (name,) = fleet.run(f"{plain_registry.host}/{repo}:1.0.0", "x", 1)
    deadline = time.monotonic() + 60
    while (status := fleet.engine.inspect(name)["State"]["Status"]) != "exited":
        # "stopped": the process ended, Podman's cleanup (network, mounts) has not run
        assert time.monotonic() < deadline, f"still {status!r} after 60 s: cleanup never ran"
        time.sleep(0.2)
    # a replacement publishing the same host port is reached (no stale port forwarding)
    api = fleet.engine.api
    body = {
        "Image": f"{plain_registry.host}/{repo}:1.0.1",
        "HostConfig": {
            "PortBindings": {
                "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(fleet.ports[name])}]
            }
        },
    }
    api.pull(f"{plain_registry.host}/{repo}", tag="1.0.1")
    api.rename(name, f"{name}-gone")
    cid = str(api.create_container_from_config(body, name=name)["Id"])
    api.start(cid)
    assert wait_http(fleet.ports[name]) == "v2"
    api.remove_container(f"{name}-gone", force=True)
