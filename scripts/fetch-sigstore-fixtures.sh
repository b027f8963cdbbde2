#!/usr/bin/env bash
# Real sigstore bundles (keyless: Fulcio certificate, SCT, Rekor inclusion proof) for the
# keyless tests: the test assets of pypi-attestations' source distribution on PyPI (Apache-2.0,
# Copyright Trail of Bits), fetched with pip and checked against a pinned SHA-256. Only the
# data files are unpacked; nothing of it is copied into this repository. Idempotent.
set -euo pipefail
DEST="${PATCHWARDEN_SIGSTORE_FIXTURES_ROOT:-/usr/local/share/patchwarden/pypi-attestations}"
VERSION=0.0.30
SHA256=14ff13c76bbef02a483c2b77532da02bfd746b5141b881f355e06b9807434423
if [ -f "$DEST/assets/pypi_attestation_models-0.0.4a2.tar.gz.sigstore" ]; then exit 0; fi
PY="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps --no-binary :all: -d "$tmp" "pypi-attestations==$VERSION"
sdist="$tmp/pypi_attestations-$VERSION.tar.gz"
echo "$SHA256  $sdist" | sha256sum -c --quiet -
tar -xzf "$sdist" -C "$tmp" "pypi_attestations-$VERSION/test/assets" "pypi_attestations-$VERSION/LICENSE"
$SUDO mkdir -p "$DEST"
$SUDO cp -r "$tmp/pypi_attestations-$VERSION/test/assets" "$tmp/pypi_attestations-$VERSION/LICENSE" "$DEST/"
echo "sigstore bundle fixtures unpacked under $DEST"
