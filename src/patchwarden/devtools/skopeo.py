"""Push OCI layouts to a registry with skopeo (an independent client), for tests and demos."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol

from patchwarden.net.redact import redact_text

SKOPEO_TIMEOUT = 120.0


class _Target(Protocol):
    @property
    def host(self) -> str: ...

    @property
    def creds(self) -> tuple[str, str] | None: ...


class SkopeoError(RuntimeError):
    pass


def skopeo_binary() -> str:
    path = shutil.which("skopeo")
    if path is None:
        raise SkopeoError("skopeo is not installed; install it with `apt-get install -y skopeo`")
    return path


def _run(args: list[str], secrets: tuple[str, ...] = ()) -> str:
    cmd = [skopeo_binary(), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=SKOPEO_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        shown = redact_text(" ".join(args), secrets)
        raise SkopeoError(f"skopeo {shown} timed out after {SKOPEO_TIMEOUT:.0f}s") from exc
    if proc.returncode != 0:
        shown = redact_text(" ".join(args), secrets)
        err = redact_text(proc.stderr.decode("utf-8", "replace").strip(), secrets)
        raise SkopeoError(f"skopeo {shown} failed (exit {proc.returncode}): {err}")
    return proc.stdout.decode("utf-8", "replace")


def _creds_args(flag: str, creds: tuple[str, str] | None) -> list[str]:
    return [flag, f"{creds[0]}:{creds[1]}"] if creds else []


def push(
    layout: Path | str,
    tag: str,
    dest: str,
    *,
    creds: tuple[str, str] | None = None,
    tls_verify: bool = False,
) -> None:
    """``skopeo copy --all oci:LAYOUT:TAG docker://DEST`` (DEST is ``host/repo:tag``)."""
    args = ["copy", "--all", "--quiet", f"--dest-tls-verify={str(tls_verify).lower()}"]
    args += _creds_args("--dest-creds", creds)
    args += [f"oci:{layout}:{tag}", f"docker://{dest}"]
    _run(args, (creds[1],) if creds else ())


def inspect_raw(ref: str, *, creds: tuple[str, str] | None = None) -> bytes:
    """The raw manifest bytes of ``docker://REF`` as skopeo sees them."""
    args = ["inspect", "--raw", "--tls-verify=false", *_creds_args("--creds", creds)]
    return _run([*args, f"docker://{ref}"], (creds[1],) if creds else ()).encode()


def inspect_digest(ref: str, *, creds: tuple[str, str] | None = None) -> str:
    """The manifest digest of ``docker://REF`` as skopeo computes it."""
    args = ["inspect", "--tls-verify=false", "--format", "{{.Digest}}"]
    args += _creds_args("--creds", creds)
    return _run([*args, f"docker://{ref}"], (creds[1],) if creds else ()).strip()


def list_tags(repo_ref: str, *, creds: tuple[str, str] | None = None) -> list[str]:
    args = ["list-tags", "--tls-verify=false", *_creds_args("--creds", creds)]
    out = _run([*args, f"docker://{repo_ref}"], (creds[1],) if creds else ())
    tags = json.loads(out).get("Tags") or []
    return [str(t) for t in tags]


class Pusher:
    """Build OCI layouts under ``root`` and push them with skopeo; returns skopeo's digest.

    ``target`` is anything with ``host`` and ``creds`` (a :class:`RegistryServer`).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.n = 0

    def _dir(self) -> Path:
        self.n += 1
        d = self.root / f"layout{self.n}"
        d.mkdir(parents=True)
        return d

    def image(self, target: _Target, repo: str, tag: str, **kw: Any) -> str:
        """Push a single-platform image (see :func:`oci_builder.build_image` for ``kw``)."""
        from patchwarden.devtools.oci_builder import build_image

        d = self._dir()
        build_image(d, tag, **kw)
        push(d, tag, f"{target.host}/{repo}:{tag}", creds=target.creds)
        return inspect_digest(f"{target.host}/{repo}:{tag}", creds=target.creds)

    def index(self, target: _Target, repo: str, tag: str, **kw: Any) -> str:
        """Push a multi-platform index (see :func:`oci_builder.build_index` for ``kw``)."""
        from patchwarden.devtools.oci_builder import build_index

        d = self._dir()
        build_index(d, tag, **kw)
        push(d, tag, f"{target.host}/{repo}:{tag}", creds=target.creds)
        return inspect_digest(f"{target.host}/{repo}:{tag}", creds=target.creds)
