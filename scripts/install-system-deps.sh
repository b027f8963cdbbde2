#!/usr/bin/env bash
# Installs the Debian packages patchwarden's tests and demo use. Idempotent; quiet when done.
set -euo pipefail
PKGS=(python3-pip python3-venv docker-registry skopeo buildah git apache2-utils ca-certificates golang-go rpm db5.3-util debootstrap gnupg prometheus
      postgresql redis-server chromium openssl)
# reference implementations for the version-ordering tests (tests/unit/versions/reference_tools.py)
PKGS+=(python3-apt node-semver golang-golang-x-mod-dev libmaven3-core-java default-jre-headless)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
here="$(cd "$(dirname "$0")" && pwd)"
if [ ${#missing[@]} -eq 0 ]; then
  bash "$here/install-podman.sh"; bash "$here/fetch-signature-fixtures.sh"; exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start a registry on :5000 and a PostgreSQL cluster on :5432; the tests
# start their own on free loopback ports.
if command -v systemctl >/dev/null && systemctl is-active --quiet docker-registry 2>/dev/null; then
  $SUDO systemctl stop docker-registry || true
fi
# Likewise Redis on :6379 (the fleet tests start their own).
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
  $SUDO systemctl stop redis-server || true
fi
# Likewise Prometheus on :9090; the metrics-gate tests start their own on a free port.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl stop prometheus || true
fi
bash "$here/install-podman.sh"
bash "$here/fetch-signature-fixtures.sh"
