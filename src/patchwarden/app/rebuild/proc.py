"""Run the container tools (buildah, podman, skopeo, git) with a timeout and bounded output."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from patchwarden.errors import PatchwardenError, UsageError

MAX_OUTPUT = 64 * 1024  # what a report keeps of a command's output (its tail)


class ToolError(PatchwardenError):
    """A container tool failed; the message carries the tail of its output."""


@dataclass(frozen=True, slots=True)
class Completed:
    code: int
    output: str  # stdout and stderr interleaved, the last MAX_OUTPUT characters
    timed_out: bool = False


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise UsageError(
            f"{name} is not installed",
            f"install it (Debian: apt-get install {name}); rebuild needs buildah, podman and "
            "skopeo",
        )
    return path


def run(
    argv: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> Completed:
    """Run ``argv``; on timeout the whole process group is killed (no stray build left)."""
    proc = subprocess.Popen(  # noqa: S603 - argv lists of buildah/podman/skopeo, no shell
        list(argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    except BaseException:  # interrupted: never leave the tool running behind us
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    text = out.decode("utf-8", "replace")[-MAX_OUTPUT:]
    return Completed(proc.returncode if not timed_out else -9, text, timed_out)


def check(argv: Sequence[str], what: str, *, timeout: float, **kw: object) -> str:
    done = run(argv, timeout=timeout, **kw)  # type: ignore[arg-type]
    if done.timed_out:
        raise ToolError(f"{what} timed out after {timeout:.0f}s", transient=True)
    if done.code != 0:
        tail = "\n".join(done.output.strip().splitlines()[-15:])
        raise ToolError(f"{what} failed (exit {done.code}):\n{tail}")
    return done.output
