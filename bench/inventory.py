"""Benchmark reference discovery: 2,000 manifests holding 4,000 image references.

The tree (.bench/inventory/tree, generated once, deterministic) is modelled on the public
repositories discovery was judged on (see docs/discovery.md): 1,200 Kubernetes manifests (a
Deployment with an init container and a container, a Service, a ConfigMap: 2 references each),
400 compose files (2 services each) and 400 Dockerfiles (a builder stage and a runtime stage),
plus one 3 MB install.yaml of CRD schemas that holds no image (the case that used to cost
5-7 s). Each tool runs 3 times in a fresh process; the median wall time and the peak RSS
(``wait4``) are printed, with ratios against the references measured in the same run:

* ``renovate``: Renovate's own extraction (``renovate --platform=local --dry-run=extract``,
  managers dockerfile, docker-compose and kubernetes), when ``npx renovate`` or
  ``$RENOVATE_BIN`` can run it here (no network: nothing is looked up);
* ``ruamel-rt`` (with ``--with-ruamel``; minutes on a loaded machine): the previous design's
  cost, every YAML file loaded with ruamel's round-trip loader;
* ``read-floor``: reading and decoding every file, nothing else.

Renovate is installed from npm, outside the project (it is only a yardstick):
``npm install --prefix .bench/renovate --ignore-scripts --omit=optional renovate@39``.

Usage: ``python bench/inventory.py [--runs 3] [--renovate PATH] [--with-ruamel]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".bench" / "inventory"
TREE = WORK / "tree"
GEN_VERSION = 2
K8S, COMPOSE, DOCKERFILES = 1200, 400, 400
IMAGES = [
    ("nginx", "1.25.3-alpine"),
    ("quay.io/prometheus/node-exporter", "v1.8.2"),
    ("ghcr.io/acme/api", "2.4.1"),
    ("registry.k8s.io/ingress-nginx/controller", "v1.10.1"),
    ("postgres", "16.2"),
    ("redis", "7.2.4"),
    ("gcr.io/distroless/static-debian12", "nonroot"),
    ("docker.io/bitnami/kafka", "3.7.0-debian-12-r0"),
]


def image(i: int) -> str:
    name, tag = IMAGES[i % len(IMAGES)]
    return f"{name}:{tag}"


def k8s(i: int) -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{i}\n  labels:\n"
        f"    app.kubernetes.io/name: app{i}\nspec:\n  replicas: 2\n  selector:\n"
        f"    matchLabels: {{app: app{i}}}\n  template:\n    metadata:\n"
        f"      labels: {{app: app{i}}}\n    spec:\n      initContainers:\n"
        f"      - name: migrate\n        image: {image(i)}\n"
        f"        command: [/bin/migrate, --wait]\n      containers:\n"
        f"      - name: app\n        image: {image(i + 1)}\n        ports:\n"
        "        - containerPort: 8080\n        resources:\n"
        "          limits: {cpu: 500m, memory: 256Mi}\n        env:\n"
        "        - name: LOG_LEVEL\n          value: info\n---\n"
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: app{i}\nspec:\n"
        f"  selector: {{app: app{i}}}\n  ports:\n  - port: 80\n    targetPort: 8080\n---\n"
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app{i}\ndata:\n"
        "  settings.yaml: |\n    retries: 3\n    timeout: 30s\n"
    )


def compose(i: int) -> str:
    return (
        f"services:\n  web:\n    image: {image(i)}\n    ports: ['80:8080']\n"
        f"    depends_on: [db]\n  db:\n    image: {image(i + 3)}\n"
        "    environment:\n      POSTGRES_PASSWORD: example\n"
    )


def dockerfile(i: int) -> str:
    return (
        f"FROM {image(i)} AS build\nWORKDIR /src\nCOPY . .\nRUN make build\n"
        f'FROM {image(i + 5)}\nCOPY --from=build /src/out /app\nENTRYPOINT ["/app"]\n'
    )


def crd_file() -> str:
    props = "".join(
        f"                  field{j}:\n                    type: string\n"
        f"                    description: the image of field {j}\n"
        for j in range(60)
    )
    one = (
        "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        "metadata:\n  name: things{i}.example.com\nspec:\n  versions:\n  - name: v1\n"
        "    schema:\n      openAPIV3Schema:\n        properties:\n          spec:\n"
        "            properties:\n              image:\n                type: string\n"
        f"              nested:\n                properties:\n{props}"
    )
    count = 3 * 1024 * 1024 // len(one) + 1
    return "".join(one.replace("{i}", str(i)) for i in range(count))


def generate() -> None:
    stamp = WORK / "tree.version"
    if stamp.is_file() and stamp.read_text() == str(GEN_VERSION):
        return
    shutil.rmtree(TREE, ignore_errors=True)
    for i in range(K8S):
        path = TREE / f"services/svc{i // 20}/k8s/app{i}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(k8s(i))
    for i in range(COMPOSE):
        path = TREE / f"stacks/stack{i}/compose.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(compose(i))
    for i in range(DOCKERFILES):
        path = TREE / f"images/img{i}/Dockerfile"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dockerfile(i))
    (TREE / "manifests").mkdir(parents=True, exist_ok=True)
    (TREE / "manifests/install.yaml").write_text(crd_file())
    # Renovate's local platform lists files with `git ls-files`: the tree is its own repository.
    subprocess.run(["git", "init", "--quiet"], cwd=TREE, check=True)
    subprocess.run(["git", "add", "--all"], cwd=TREE, check=True)
    stamp.write_text(str(GEN_VERSION))


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and stdout of one fresh process."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
        err.seek(0)
        problem = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({proc.returncode}): {problem[-800:]}")
    return wall, int(usage.ru_maxrss), text


RUAMEL = """
import sys
from pathlib import Path
from ruamel.yaml import YAML
y = YAML(typ="rt")
for p in sorted(Path(sys.argv[1]).rglob("*")):
    if ".git" in p.parts:
        continue
    if p.suffix in (".yaml", ".yml"):
        list(y.load_all(p.read_text()))
    elif p.is_file():
        p.read_text()
"""
FLOOR = """
import sys
from pathlib import Path
for p in sorted(Path(sys.argv[1]).rglob("*")):
    if p.is_file() and ".git" not in p.parts:
        p.read_bytes().decode()
"""
RENOVATE_CONFIG = {
    "onboarding": False,
    "requireConfig": "ignored",
    "extends": [],
    "enabledManagers": ["dockerfile", "docker-compose", "kubernetes"],
    "kubernetes": {"fileMatch": ["\\.ya?ml$"]},
}


def renovate_command(explicit: str | None) -> list[str] | None:
    candidates = [explicit, os.environ.get("RENOVATE_BIN"), shutil.which("renovate")]
    local = ROOT / ".bench" / "renovate" / "node_modules" / ".bin" / "renovate"
    candidates.append(str(local) if local.exists() else None)
    for c in candidates:
        if c and Path(c).exists():
            return [c]
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--renovate", help="path to a renovate executable (default: $RENOVATE_BIN)")
    ap.add_argument("--with-ruamel", action="store_true", help="also time the ruamel floor")
    args = ap.parse_args()
    generate()
    files = sum(1 for p in TREE.rglob("*") if p.is_file() and ".git" not in p.parts)
    py = sys.executable
    tools: dict[str, tuple[list[str], dict[str, str] | None]] = {
        "patchwarden": (
            [py, "-m", "patchwarden.cli.main", "inventory", str(TREE), "--format", "json"],
            None,
        ),
        "read-floor": ([py, "-c", FLOOR, str(TREE)], None),
    }
    if args.with_ruamel:
        tools["ruamel-rt"] = ([py, "-c", RUAMEL, str(TREE)], None)
    renovate = renovate_command(args.renovate)
    report = WORK / "renovate-report.json"
    if renovate is not None:
        cfg = WORK / "renovate.json"
        cfg.write_text(json.dumps(RENOVATE_CONFIG))
        env = {
            **os.environ,
            "RENOVATE_CONFIG_FILE": str(cfg),
            "LOG_LEVEL": "warn",
            "RENOVATE_X_IGNORE_NODE_WARN": "true",
        }
        cmd = [
            *renovate,
            "--platform=local",
            "--dry-run=extract",
            "--report-type=file",
            f"--report-path={report}",
        ]
        tools["renovate"] = (cmd, env)
    else:
        print("renovate: not runnable here (set $RENOVATE_BIN or --renovate); not compared")
    results: dict[str, tuple[float, int]] = {}
    counts = ""
    for name, (cmd, env) in tools.items():
        walls, peaks = [], []
        for _ in range(args.runs):
            wall, peak, text = timed(cmd, TREE, env)
            walls.append(wall)
            peaks.append(peak)
            if name == "patchwarden":
                data = json.loads(text)
                counts = f"{len(data['references'])} references, {len(data['skipped'])} skipped"
        results[name] = (statistics.median(walls), max(peaks))
    if "renovate" in results and report.is_file():
        deps = _renovate_deps(report)
        print(f"renovate extracted {deps} dependencies")
    print(f"tree: {files} files ({K8S + COMPOSE + DOCKERFILES} manifests + a 3 MB CRD file)")
    print(f"patchwarden: {counts}")
    ours = results["patchwarden"][0]
    for name, (wall, peak) in results.items():
        ratio = f"  patchwarden/{name} = {ours / wall:.2f}" if name != "patchwarden" else ""
        print(f"{name:12s} median {wall:6.2f} s  peak RSS {peak / 1024:6.0f} MiB{ratio}")


def _renovate_deps(report: Path) -> int:
    data = json.loads(report.read_text())
    total = 0
    for repo in data.get("repositories", {}).values():
        for files in repo.get("packageFiles", {}).values():
            total += sum(len(f.get("deps", [])) for f in files)
    return total


if __name__ == "__main__":
    main()
