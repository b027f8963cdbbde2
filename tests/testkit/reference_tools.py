"""The reference implementations, run in batches: each takes ``[(a, b), ...]`` and returns
``[-1 | 0 | 1, ...]`` as the real tool orders ``a`` against ``b``.

=========  ======================================================================  =============
scheme     reference                                                               Debian package
=========  ======================================================================  =============
dpkg       ``dpkg --compare-versions`` (a sample) and apt's ``apt_pkg.version_compare``  dpkg, python3-apt
rpm        rpm's own ``rpmvercmp`` through ``rpm --eval '%{lua: rpm.vercmp(...)}'``   rpm
SemVer     node-semver ``compare`` (npm's implementation)                           node-semver
Go         ``golang.org/x/mod/semver.Compare`` (what the go command uses)           golang-golang-x-mod-dev
Maven      ``ComparableVersion`` from maven-artifact (Maven's own class)            libmaven3-core-java
=========  ======================================================================  =============

A missing tool fails the test under ``CI=true`` (scripts/install-system-deps.sh installs them)
and skips it elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from testkit.tools import unavailable

Pairs = Sequence[tuple[str, str]]
SYSTEM_PYTHON = "/usr/bin/python3"
NODE_PATH = "/usr/share/nodejs"
GOCODE = "/usr/share/gocode"
MAVEN_ARTIFACT = "/usr/share/java/maven-artifact-3.x.jar"


def missing(what: str) -> None:
    unavailable(f"{what} is not installed (see scripts/install-system-deps.sh)")


def _run(cmd: list[str], stdin: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        cmd, input=stdin, capture_output=True, text=True, timeout=300, check=False, env=env
    )
    if done.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed ({done.returncode}): {done.stderr[-2000:]}")
    return str(done.stdout)


def _ints(out: str, n: int) -> list[int]:
    got = [(int(x) > 0) - (int(x) < 0) for x in out.split()]
    assert len(got) == n, f"reference answered {len(got)} of {n} pairs"
    return got


def dpkg_cli(pairs: Pairs) -> list[int]:
    """``dpkg --compare-versions`` itself: one or two processes per pair (use on a sample)."""
    if shutil.which("dpkg") is None:
        missing("dpkg")
    out = []
    for a, b in pairs:
        if subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0:
            out.append(-1)
        elif subprocess.run(["dpkg", "--compare-versions", a, "eq", b], check=False).returncode:
            out.append(1)
        else:
            out.append(0)
    return out


_APT = """
import sys, apt_pkg
apt_pkg.init_system()
for line in sys.stdin:
    a, b = line.rstrip("\\n").split("\\t")
    print(apt_pkg.version_compare(a, b))
"""


def dpkg_apt(pairs: Pairs) -> list[int]:
    """apt's dpkg ordering (python3-apt on the system Python), all pairs in one process."""
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import apt_pkg"], capture_output=True)
    if probe.returncode != 0:
        missing("python3-apt")
    text = "".join(f"{a}\t{b}\n" for a, b in pairs)
    return _ints(_run([SYSTEM_PYTHON, "-c", _APT], text), len(pairs))


def rpm_vercmp(pairs: Pairs, tmp: Path) -> list[int]:
    """rpm's EVR comparison (``rpm.vercmp`` in rpm's Lua), all pairs in one process."""
    if shutil.which("rpm") is None:
        missing("rpm")
    data = tmp / "rpm-pairs.txt"
    data.write_text("".join(f"{a}\t{b}\n" for a, b in pairs))
    lua = (
        f'%{{lua: for line in io.lines("{data}") do '
        'local a, b = line:match("^(.-)\\t(.*)$") '
        'io.write(tostring(rpm.vercmp(a, b)), "\\n") end}'
    )
    return _ints(_run(["rpm", "--eval", lua], ""), len(pairs))


_NODE = """
const semver = require("semver");
const pairs = JSON.parse(require("fs").readFileSync(0, "utf8"));
const one = ([a, b]) => (semver.valid(a) && semver.valid(b) ? semver.compare(a, b) : "null");
process.stdout.write(pairs.map(one).join("\\n") + "\\n");
"""


def node_semver(pairs: Pairs) -> list[int | None]:
    """node-semver's ``compare``; None where node-semver says a version is not valid."""
    if shutil.which("node") is None or not Path(NODE_PATH, "semver").is_dir():
        missing("node and node-semver")
    env = {**os.environ, "NODE_PATH": NODE_PATH}
    out = _run(["node", "-e", _NODE], json.dumps(list(pairs)), env=env).split()
    assert len(out) == len(pairs)
    return [None if x == "null" else (int(x) > 0) - (int(x) < 0) for x in out]


_GO = """package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		ab := strings.SplitN(in.Text(), "\\t", 2)
		fmt.Fprintln(out, semver.Compare(ab[0], ab[1]))
	}
}
"""


def go_semver(pairs: Pairs, tmp: Path) -> list[int]:
    """x/mod/semver wants a ``v``; OSV's Go versions have none, so it is added here."""
    if shutil.which("go") is None or not Path(GOCODE, "src/golang.org/x/mod/semver").is_dir():
        missing("go and golang-golang-x-mod-dev")
    src = tmp / "gopath" / "src" / "vercmp"
    src.mkdir(parents=True, exist_ok=True)
    (src / "main.go").write_text(_GO)
    binary = tmp / "vercmp"
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": f"{tmp / 'gopath'}:{GOCODE}",
        "GOCACHE": str(tmp / "gocache"),
        "GOFLAGS": "",
    }
    _run(["go", "build", "-o", str(binary), "vercmp"], "", env=env)
    text = "".join(f"v{a}\tv{b}\n" for a, b in pairs)
    return _ints(_run([str(binary)], text), len(pairs))


def maven_comparable(pairs: Pairs) -> list[int]:
    """Maven's ``ComparableVersion`` main compares each argument with the next: pass
    ``a1 b1 a2 b2 ...`` and keep the answers for (a1, b1), (a2, b2), ..."""
    if shutil.which("java") is None or not Path(MAVEN_ARTIFACT).is_file():
        missing("java and libmaven3-core-java")
    out: list[int] = []
    chunk = 1000
    for i in range(0, len(pairs), chunk):
        part = pairs[i : i + chunk]
        args = [v for pair in part for v in pair]
        text = _run(
            [
                "java",
                "-cp",
                MAVEN_ARTIFACT,
                "org.apache.maven.artifact.versioning.ComparableVersion",
                *args,
            ],
            "",
        )
        verdicts = [
            line.strip().split(" ")[1]
            for line in text.splitlines()
            if line.startswith("   ") and len(line.strip().split(" ")) == 3
        ]
        assert len(verdicts) == len(args) - 1, (len(verdicts), len(args))
        out.extend({"<": -1, "==": 0, ">": 1}[verdicts[j]] for j in range(0, len(args), 2))
    return out
