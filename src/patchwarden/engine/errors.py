"""Engine failures: :class:`EngineError` (with a hint) and the one translation of the
``docker`` SDK's and ``requests``' exceptions into it, so no raw SDK exception leaves
``engine/``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from patchwarden.core.timing import span
from patchwarden.errors import PatchwardenError

# Podman answers 500, not 404, when a container or image it had just found is removed before
# it reads it ("container ID does not exist in database: no such container"), e.g. between
# the list and the inspects of ``list_containers``: that is "gone", like a 404.
GONE = ("no such container", "no such image")


class EngineError(PatchwardenError):
    """The container engine refused a request or could not be reached."""


class NotFoundError(EngineError):
    """The engine has no such container or image (any more)."""


@contextmanager
def _errors(what: str, phase: str = "engine.other") -> Iterator[None]:
    import docker.errors
    import requests

    try:
        with span(phase):
            yield
    except docker.errors.NotFound as exc:
        raise NotFoundError(f"{what}: not found ({_explain(exc)})") from None
    except docker.errors.APIError as exc:
        if _explain(exc).endswith(GONE):
            raise NotFoundError(f"{what}: not found ({_explain(exc)})") from None
        raise EngineError(f"{what}: the engine refused: {_explain(exc)}") from None
    except (requests.ConnectionError, ConnectionError, FileNotFoundError) as exc:
        raise EngineError(
            f"{what}: cannot reach the container engine ({type(exc).__name__})",
            "check --engine / $DOCKER_HOST and that the engine (docker or "
            "`podman system service`) is running",
            transient=True,
        ) from None
    except docker.errors.DockerException as exc:
        raise EngineError(
            f"{what}: {exc}",
            "check --engine / $DOCKER_HOST and that the engine (docker or "
            "`podman system service`) is running",
        ) from None


def _explain(exc: Any) -> str:
    return str(getattr(exc, "explanation", None) or exc)
