"""Turn ``builds:`` entries (or ``rebuild DIR --to REPO``) into :class:`BuildSpec` values.

The base image is read from the Dockerfile: the FROM of the stage that is built (``target``,
else the last stage), following ``FROM <earlier stage>`` back to an image. Global ``ARG``
defaults and ``build_args`` are substituted as the builder would.
"""

from __future__ import annotations

import re
from pathlib import Path

from patchwarden.app.rebuild.model import BuildSpec, FileCheck, Health, TestSpec
from patchwarden.config.builds import BuildConfig
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import ConfigError, PatchwardenError, UsageError
from patchwarden.refs.dockerfile_expand import expand

DOCKERFILE_NAMES = ("Containerfile", "Dockerfile")
_ARG_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:=(.*))?$")


def find_dockerfile(context: Path, given: str | None, where: str) -> Path:
    if given is not None:
        path = (context / given).resolve()
        if not path.is_file():
            raise ConfigError(f"{where}: dockerfile {path} does not exist", "fix dockerfile:")
        return path
    for name in DOCKERFILE_NAMES:
        if (context / name).is_file():
            return (context / name).resolve()
    raise UsageError(
        f"{where}: no Containerfile or Dockerfile in {context}",
        "set dockerfile: in the build, or pass the directory that holds it",
    )


def _logical_lines(text: str) -> list[str]:
    lines, buf = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            buf += stripped[:-1] + " "
            continue
        lines.append(buf + stripped)
        buf = ""
    if buf:
        lines.append(buf)
    return lines


def base_image(dockerfile: Path, target: str | None, build_args: dict[str, str]) -> ImageRef:
    """The external image the built stage starts from; a clear error when there is none."""
    try:
        text = dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {dockerfile}: {exc}") from None
    args: dict[str, str | None] = {}
    stages: list[tuple[str, str | None]] = []  # (image text, alias)
    for line in _logical_lines(text):
        word, _, rest = line.partition(" ")
        keyword = word.upper()
        if keyword == "ARG" and not stages:
            m = _ARG_RE.match(rest.strip())
            if m:
                args[m.group(1)] = build_args.get(m.group(1), m.group(2))
        elif keyword == "FROM":
            parts = [p for p in rest.split() if not p.startswith("--")]
            if not parts:
                raise UsageError(f"{dockerfile}: FROM without an image")
            alias = parts[2].lower() if len(parts) >= 3 and parts[1].lower() == "as" else None
            stages.append((parts[0], alias))
    if not stages:
        raise UsageError(f"{dockerfile}: no FROM instruction", "a build needs a base image")
    index = len(stages) - 1
    if target is not None:
        names = [a for _, a in stages]
        if target.lower() not in names:
            raise UsageError(
                f"{dockerfile}: no stage named {target!r}",
                f"stages: {', '.join(a for a in names if a) or 'none named'}",
            )
        index = names.index(target.lower())
    seen = set()
    while True:
        image_text, _ = stages[index]
        try:
            resolved = expand(image_text, args)
        except Exception as exc:  # the parser's own unresolved-variable error
            raise UsageError(
                f"{dockerfile}: cannot resolve the base image {image_text!r}: {exc}",
                "give the variable a default ARG or a build_args entry",
            ) from None
        earlier = [a for _, a in stages[:index]]
        if resolved.lower() in earlier and resolved.lower() not in seen:
            seen.add(resolved.lower())
            index = earlier.index(resolved.lower())
            continue
        if resolved.lower() == "scratch":
            raise UsageError(
                f"{dockerfile}: the built stage starts FROM scratch",
                "rebuild follows a base image; an image FROM scratch has none to follow",
            )
        try:
            return parse_reference(resolved)
        except PatchwardenError as exc:
            raise UsageError(f"{dockerfile}: base image {resolved!r}: {exc.message}") from None


def repository(text: str) -> ImageRef:
    """``REGISTRY/REPO`` as a reference without tag or digest."""
    if "@" in text or ":" in text.rsplit("/", 1)[-1] or "/" not in text:
        raise UsageError(
            f"destination {text!r} must be REGISTRY/REPO without tag or digest",
            "e.g. --to registry.example.com/team/app; tags come from the tag scheme",
        )
    return parse_reference(text).with_tag(None).with_digest(None)


def from_config(build: BuildConfig, root: Path, index: int) -> BuildSpec:
    where = f"builds[{index}]"
    context = (root / build.context).resolve()
    if not context.is_dir():
        raise ConfigError(f"{where}.context: {context} is not a directory", "fix context:")
    dockerfile = find_dockerfile(context, build.dockerfile, where)
    dest = repository(build.destination)
    tests = tuple(
        TestSpec(
            name=t.name or " ".join(t.run),
            run=tuple(t.run),
            timeout_s=t.timeout.total_seconds(),
            exit_code=t.exit_code,
            stdout_contains=t.stdout_contains,
        )
        for t in build.tests
    )
    files = tuple(FileCheck(f.path, f.exists, f.contains) for f in build.files)
    health = (
        Health(build.health.port, build.health.path, build.health.timeout.total_seconds())
        if build.health
        else None
    )
    return BuildSpec(
        name=build.name or dest.name,
        context=context,
        dockerfile=dockerfile,
        destination=dest,
        base=base_image(dockerfile, build.target, build.build_args),
        target=build.target,
        build_args=tuple(sorted(build.build_args.items())),
        version=build.version,
        tag_scheme=build.tag_scheme,
        moving_tag=build.moving_tag,
        tests=tests,
        files=files,
        health=health,
        gate=build.gates.new_vulnerabilities,
        signing_key=str((root / build.signing_key).expanduser().resolve())
        if build.signing_key
        else None,
    )


def from_directory(directory: Path, to: str) -> BuildSpec:
    """``rebuild DIR --to REGISTRY/REPO``: defaults for everything but the destination."""
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory", "pass the Dockerfile's directory")
    repository(to)  # the precise message before pydantic's
    return from_config(BuildConfig(destination=to), directory, 0)


def specs(builds: list[BuildConfig], root: Path) -> list[BuildSpec]:
    out = [from_config(b, root, i) for i, b in enumerate(builds)]
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(
            f"builds: two builds are named {dupes[0]!r}",
            "give each build its own name: (it keys the build history)",
        )
    return out
