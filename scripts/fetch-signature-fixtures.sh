#!/usr/bin/env bash
# Real cosign signatures for the signature tests: containers/image's signature/fixtures
# (Apache-2.0), as Debian ships them in golang-github-containers-image-dev. Only the files are
# unpacked (dpkg -x), without the package's ~300 Go source dependencies. Idempotent.
set -euo pipefail
bash "$(dirname "$0")/fetch-sigstore-fixtures.sh"
DEST="${PATCHWARDEN_SIGNATURE_FIXTURES_ROOT:-/usr/local/share/patchwarden/containers-image}"
REL=usr/share/gocode/src/github.com/containers/image/signature/fixtures
if [ -f "/$REL/cosign.pub" ] || [ -f "$DEST/$REL/cosign.pub" ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
chmod 777 "$tmp"
if ! apt-get download golang-github-containers-image-dev >/dev/null 2>&1; then
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get download golang-github-containers-image-dev >/dev/null
fi
$SUDO mkdir -p "$DEST"
$SUDO dpkg -x golang-github-containers-image-dev_*.deb "$DEST"
echo "signature fixtures unpacked under $DEST/$REL"
