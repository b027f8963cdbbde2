"""The pipeline's builder and test runner on a Docker Engine API (``rebuild --engine URL``).

The image is built with ``POST /build`` (``--pull``, the same labels as with buildah), saved
from the engine (``docker save`` format) and turned into an OCI layout with skopeo; the OCI
annotations (base name and digest, revision, created), which the classic build API cannot set,
are then written into that layout's manifest. From there on the pipeline is the same: what is
scanned is what is pushed, byte for byte.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from patchwarden.app.rebuild.proc import Completed, check, tool
from patchwarden.app.rebuild.tools import BUILD_TIMEOUT_S, BuildRequest
from patchwarden.core.digest import Digest
from patchwarden.engine.build import EngineBuilds
from patchwarden.errors import PatchwardenError

REF_NAME = "org.opencontainers.image.ref.name"


class EngineBuilder:
    """:class:`~patchwarden.app.rebuild.tools.Builder` on the Engine API."""

    def __init__(self, builds: EngineBuilds) -> None:
        self.builds = builds
        self.skopeo = tool("skopeo")
        self._annotations: dict[str, str] = {}

    def build(self, req: BuildRequest) -> str:
        self.builds.build(
            req.context,
            req.dockerfile,
            req.tag,
            target=req.target,
            build_args=dict(req.build_args),
            labels=req.labels,
            pull=True,
        )
        self._annotations = dict(req.annotations)
        return req.tag  # the engine knows the image by this name; removed afterwards

    def export(self, image: str, layout: Path, tag: str) -> str:
        with tempfile.TemporaryDirectory(prefix="patchwarden-save-") as tmp:
            archive = Path(tmp) / "image.tar"
            with open(archive, "wb") as fh:
                for chunk in self.builds.save(image):
                    fh.write(chunk)
            check(
                [
                    self.skopeo,
                    "copy",
                    "--quiet",
                    "--dest-compress",
                    f"docker-archive:{archive}",
                    f"oci:{layout}:{tag}",
                ],
                "converting the engine's image to an OCI layout",
                timeout=BUILD_TIMEOUT_S,
            )
        return annotate_layout(layout, tag, self._annotations)

    def remove(self, image: str) -> None:
        with contextlib.suppress(PatchwardenError):  # already gone
            self.builds.remove_image(image)

    def read_file(self, image: str, path: str) -> bytes | None:
        return self.builds.read_file(image, path)


class EngineRunner:
    """:class:`~patchwarden.app.rebuild.tools.Runner` on the Engine API."""

    def __init__(self, builds: EngineBuilds) -> None:
        self.builds = builds

    def run(self, image: str, argv: Sequence[str], timeout: float) -> Completed:
        done = self.builds.run(image, argv, timeout)
        return Completed(done.code, done.output, done.timed_out)

    def start(self, image: str, port: int) -> tuple[str, int]:
        return self.builds.start(image, port)

    def logs(self, container: str) -> str:
        return self.builds.logs(container)

    def stop(self, container: str) -> None:
        self.builds.stop(container)


def annotate_layout(layout: Path, tag: str, annotations: Mapping[str, str]) -> str:
    """Add ``annotations`` to the manifest ``tag`` names in the OCI layout; its new digest."""
    index_path = layout / "index.json"
    index = json.loads(index_path.read_text())
    entries = index.get("manifests") or []
    entry = next((m for m in entries if (m.get("annotations") or {}).get(REF_NAME) == tag), None)
    if entry is None:
        raise PatchwardenError(f"the OCI layout {layout} has no image tagged {tag}")
    old = Digest.parse(entry["digest"])
    blobs = layout / "blobs" / old.algorithm
    manifest = json.loads((blobs / old.hex).read_bytes())
    if annotations:
        manifest["annotations"] = {**(manifest.get("annotations") or {}), **annotations}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    new = Digest.of(raw)
    (layout / "blobs" / new.algorithm / new.hex).write_bytes(raw)
    entry["digest"], entry["size"] = str(new), len(raw)
    tmp = index_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(index, separators=(",", ":")))
    tmp.replace(index_path)
    return str(new)


__all__ = ["EngineBuilder", "EngineRunner", "annotate_layout"]
