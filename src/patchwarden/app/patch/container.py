"""A buildah working container of an image: run the package manager in it, commit one layer."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from patchwarden.app.rebuild.proc import Completed, check, run, tool
from patchwarden.errors import UsageError

APT_TIMEOUT_S = 1800.0
STEP_TIMEOUT_S = 600.0
DEB_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")  # Debian policy 5.6.1


class WorkingContainer:
    """``buildah from`` an image; :meth:`close` removes the container whatever happened."""

    def __init__(self, image: str, *, tls_verify: bool, authfile: str | None) -> None:
        self.binary = tool("buildah")
        argv = [self.binary, "from", "--pull=always", "--quiet"]
        if not tls_verify:
            argv.append("--tls-verify=false")
        if authfile:
            argv.append(f"--authfile={authfile}")
        out = check([*argv, f"docker://{image}"], "buildah from", timeout=STEP_TIMEOUT_S)
        self.name = out.strip().splitlines()[-1]

    def root(self) -> Path:
        out = check([self.binary, "mount", self.name], "buildah mount", timeout=STEP_TIMEOUT_S)
        return Path(out.strip().splitlines()[-1])

    def run(self, argv: Sequence[str], env: dict[str, str], timeout: float) -> Completed:
        cmd = [self.binary, "run", "--isolation=chroot", "--user=root", "--no-hosts"]
        cmd += [f"--env={k}={v}" for k, v in sorted(env.items())]
        return run([*cmd, self.name, "--", *argv], timeout=timeout)

    def commit(self, name: str) -> str:
        with tempfile.TemporaryDirectory(prefix="patchwarden-patch-") as tmp:
            iid = Path(tmp) / "iid"
            check(
                [
                    self.binary,
                    "commit",
                    "--quiet",
                    "--format=oci",
                    f"--iidfile={iid}",
                    self.name,
                    name,
                ],
                "buildah commit",
                timeout=STEP_TIMEOUT_S,
            )
            return iid.read_text().strip()

    def close(self) -> None:
        run([self.binary, "rm", self.name], timeout=STEP_TIMEOUT_S)


def apt_script(packages: Sequence[str]) -> list[str]:
    """Upgrade exactly ``packages`` to the repositories' candidates, leave no apt lists."""
    bad = [p for p in packages if not DEB_NAME.fullmatch(p)]
    if bad:
        raise UsageError(f"refusing to upgrade a package with an invalid name: {bad[0]!r}")
    names = " ".join(packages)
    # apt's lists and downloads go to a private directory that is removed again: the image's
    # own /var/lib/apt/lists and /var/cache/apt are left as they were (no whiteouts)
    work = "/tmp/.patchwarden-apt"  # noqa: S108 - a path inside the image's working container
    opts = (
        f"-o Dir::State::Lists={work}/lists -o Dir::Cache={work}/cache "
        f"-o Dir::Cache::Archives={work}/archives"
    )
    return [
        "/bin/sh",
        "-c",
        f"set -e; mkdir -p {work}/lists/partial {work}/cache {work}/archives/partial; "
        f"apt-get {opts} update -qq; "
        f"apt-get {opts} install -y -qq --only-upgrade --no-install-recommends "
        f"-o Dpkg::Options::=--force-confold {names}; "
        f"rm -rf {work}",
    ]
