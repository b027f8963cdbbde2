"""``make demo``: a local registry with sample images, a sample repository, inventory and check.

Runs offline: the registry is CNCF distribution on 127.0.0.1, images are built as OCI layouts
by patchwarden's devtools and pushed with skopeo, state and cache live in a temporary directory.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from patchwarden.demo.sample_repo import write_sample
from patchwarden.demo.seed import REPUSHED, SAMPLES, build_and_push
from patchwarden.devtools.registry_server import RegistryServer


def _say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}", flush=True)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> int:
    print(f"$ patchwarden {shlex.join(args)}", flush=True)
    proc = subprocess.run([sys.executable, "-m", "patchwarden.cli.main", *args], cwd=cwd, env=env)
    return proc.returncode


def _capture(args: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    print(f"$ patchwarden {shlex.join(args)}", flush=True)
    proc = subprocess.run(
        [sys.executable, "-m", "patchwarden.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    sys.stderr.write(proc.stderr)
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="patchwarden-demo-") as tmp:
        work = Path(tmp)
        _say("Starting a local registry (CNCF distribution) on loopback")
        with RegistryServer(workdir=work / "registry") as registry:
            host = registry.host
            print(f"registry at http://{host}")
            _say(f"Seeding {len(SAMPLES)} sample tags (one multi-arch repository) with skopeo")
            started = time.monotonic()
            digests = {f"{s.repo}:{s.tag}": build_and_push(s, work, host) for s in SAMPLES}
            print(f"pushed in {time.monotonic() - started:.1f}s")
            repo = work / "sample-app"
            write_sample(repo, host, digests["acme/worker:v2.0.1"])
            for s in REPUSHED:
                build_and_push(s, work, host)
            print(
                f"re-pushed {', '.join(f'{s.repo}:{s.tag}' for s in REPUSHED)} "
                "after the sample pinned its old digest (digest drift)"
            )
            env = {
                **os.environ,
                "XDG_CACHE_HOME": str(work / "cache"),
                "PATCHWARDEN_STATE": str(work / "state.db"),  # SQLite state, like the cache
                "NO_COLOR": "1",
                "COLUMNS": os.environ.get("COLUMNS", "160"),
            }
            _say(f"The sample repository ({repo})")
            for path in sorted(p for p in repo.rglob("*") if p.is_file()):
                print(f"  {path.relative_to(repo)}")
            _say("Every image reference in it")
            if _run(["inventory", "."], repo, env) != 0:
                return 1
            _say("Which are stale, and the right update for each (policies from patchwarden.yaml)")
            code = _run(["check", ".", "--no-progress", "--show-requests"], repo, env)
            print(
                f"(exit code {code}: 3 means some references could not be checked — the "
                "missing acme/ghost repository — while every other result was still reported)"
            )
            _say("Run again: the tag lists now come from the cache; only digest HEADs are sent")
            warm = _capture(["check", ".", "--format", "json"], repo, env)
            print(f"summary: {warm['summary']}")
            print(f"registry requests: {warm['requests']}")
            _say("Which CVEs each update fixes (bundled sample advisories, imported offline)")
            db = work / "advisories.db"
            samples = Path(__file__).parent / "data" / "osv"
            if _run(["db", "import", str(samples), "--db", str(db)], repo, env) != 0:
                return 1
            vulns = ["--vulns", "--db", str(db), "--no-progress"]
            _run(["check", ".", *vulns], repo, env)
            _say("The update, as a diff and a pull-request body (nothing is changed)")
            _run(["update", ".", "--dry-run", *vulns], repo, env)
            _say("Stopping the registry")
        return 0 if code in (0, 1, 3) else code


if __name__ == "__main__":
    sys.exit(main())
