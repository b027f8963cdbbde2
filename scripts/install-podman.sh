#!/usr/bin/env bash
# Install Podman (Docker-compatible API) and static busybox for the engine integration tests.
# Idempotent: installs only what is missing. Podman's settings (runc, cgroupfs, vfs, insecure
# loopback registries, as in machine-notes) are per test session, not system-wide.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

need=()
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
if [ "${#need[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# No system configuration is written: the test session runs Podman with its own
# containers.conf, storage.conf and registries.conf (tests/integration/podman.py).
podman --version
