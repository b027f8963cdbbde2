"""A sample application repository that references the demo images in every supported way."""

from __future__ import annotations

from pathlib import Path

FILES: dict[str, str] = {
    "Dockerfile": """\
# syntax=docker/dockerfile:1
ARG NODE_VERSION=18
FROM {R}/library/node:${{NODE_VERSION}}-alpine AS build
WORKDIR /src
RUN npm ci && npm run build

FROM build AS test
RUN npm test

FROM {R}/library/nginx:1.25.3
COPY --from=build /src/dist /usr/share/nginx/html
""",
    "compose.yaml": """\
services:
  db:
    image: {R}/library/postgres:15.5   # policy: min_age 7d in patchwarden.yaml
  cache:
    image: "{R}/library/redis:${{REDIS_TAG:-7.2.3}}"
  web:
    build: .
  sidecar:
    image: {R}/library/nginx:stable
""",
    "k8s/api.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      initContainers:
        - name: migrate
          image: {R}/acme/api:v1.2.0
      containers:
        - name: api
          image: {R}/acme/api:v1.2.0
        - name: worker
          image: {R}/acme/worker:v2.0.1@{WORKER_DIGEST}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: cleanup
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: cleanup
              image: {R}/library/busybox:latest
            - name: ghost
              image: {R}/acme/ghost:1.0   # this repository does not exist
""",
    "chart/Chart.yaml": "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
    "chart/values.yaml": """\
redis:
  image:
    registry: {R}
    repository: library/redis
    tag: 7.2.3
api:
  image:
    repository: "{R}/acme/api"
    tag: "{{{{ .Values.global.apiTag }}}}"
""",
    "overlays/prod/kustomization.yaml": """\
resources:
  - ../../k8s
images:
  - name: {R}/library/busybox
    newTag: 1.36.0
""",
    "patchwarden.yaml": """\
version: 1
defaults:
  level: major
images:
  - match: "*/library/postgres"
    min_age: 7d        # cooldown: a new database image must be a week old
  - match: "*/library/redis"
    level: patch       # only patch updates for the cache
  - match: "*/acme/*"
    level: minor
  - match: "docker.io/docker/dockerfile"
    ignore: true       # the Dockerfile's `# syntax=` frontend: BuildKit keeps it current
registries:
  {R}:
    insecure: true     # loopback registries are allowed over HTTP anyway; shown for reference
""",
}


def write_sample(root: Path, registry: str, worker_digest: str) -> None:
    for rel, template in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.format(R=registry, WORKER_DIGEST=worker_digest))
