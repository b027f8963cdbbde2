from __future__ import annotations

from pathlib import Path

from patchwarden.refs.kustomize import KustomizeSource
from patchwarden.refs.model import Reference, RefKind, Skipped

SRC = KustomizeSource()
DC = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6"


def test_claims() -> None:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        assert SRC.claims(Path(name), "")
    assert not SRC.claims(Path("kustomize.yaml"), "")


def test_fixture(monorepo: Path) -> None:
    text = (monorepo / "deploy/overlays/prod/kustomization.yaml").read_text()
    found = SRC.extract("k.yaml", text)
    refs = [f for f in found if isinstance(f, Reference)]
    assert refs == found and all(f.kind is RefKind.KUSTOMIZE for f in refs)
    assert [(f.line, f.column, f.image, str(f.ref), f.context, f.parts) for f in refs] == [
        (
            7,
            13,
            "ghcr.io/acme/web:2.3.0",
            "ghcr.io/acme/web:2.3.0",
            "images[0] (ghcr.io/acme/web)",
            (("name", 6, 11), ("newTag", 7, 13)),
        ),
        # newTag: 16.4 is a float in YAML: the written text is used
        (
            9,
            14,
            "registry.example.com/mirror/postgres:16.4",
            "registry.example.com/mirror/postgres:16.4",
            "images[1] (postgres)",
            (("name", 8, 11), ("newName", 9, 14), ("newTag", 10, 13)),
        ),
        (
            13,
            13,
            f"busybox@sha256:{DC}",
            f"docker.io/library/busybox@sha256:{DC}",
            "images[3] (busybox)",
            (("name", 12, 11), ("digest", 13, 13)),
        ),
    ]


def test_new_name_only_and_bad_entries() -> None:
    text = (
        "images:\n- name: nginx\n  newName: ghcr.io/mirror/nginx\n"
        "- name: x\n  newTag: '{{ tag }}'\n- name: y\n  newTag: 'bad tag'\n- just-a-string\n"
    )
    found = SRC.extract("kustomization.yaml", text)
    assert isinstance(found[0], Reference)
    assert (found[0].line, str(found[0].ref)) == (3, "ghcr.io/mirror/nginx:latest")
    skipped = [s for s in found[1:] if isinstance(s, Skipped)]
    assert len(skipped) == len(found) - 1
    assert [(s.line, s.reason) for s in skipped] == [
        (5, "templated value ({{ ... }}) cannot be resolved statically"),
        (7, skipped[1].reason),
    ]
    assert "invalid tag 'bad tag'" in skipped[1].reason


def test_no_images_and_malformed() -> None:
    assert SRC.extract("kustomization.yaml", "resources: [a.yaml]\n") == []
    [s] = SRC.extract("kustomization.yaml", "images:\n  - name: [x\n")
    assert isinstance(s, Skipped)
    assert s.reason.startswith("malformed YAML at line 3:")
