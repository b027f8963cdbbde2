"""``registry promote --from-env A --to-env B``: source and destination from the registry
environments of ``environments:`` (``registry: {repository, tag, immutable}``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from patchwarden.config.rollout import RegistryTarget
from patchwarden.config.schema import Config
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.errors import ReferenceFormatError, UsageError


@dataclass(frozen=True)
class Endpoints:
    source: ImageRef
    destination: ImageRef
    immutable: bool  # the destination environment asks for immutable tags


def _target(config: Config, name: str, flag: str) -> RegistryTarget:
    env = next((e for e in config.environments if e.name == name), None)
    if env is None:
        names = ", ".join(e.name for e in config.environments) or "none"
        raise UsageError(
            f"{flag} {name}: no environment of that name (configured: {names})",
            "name an environment of environments: in patchwarden.yaml (docs/configuration.md)",
        )
    if env.registry is None:
        raise UsageError(
            f"{flag} {name}: its target is {env.kind}, not a registry to promote to or from",
            f"give {name} a registry: {{repository: ...}} target, or pass the image instead",
        )
    return env.registry


def _at(repository: str, ref: str | None, what: str) -> ImageRef:
    """``repository`` with ``ref`` (``TAG``, ``@DIGEST`` or ``TAG@DIGEST``) appended."""
    if ref is None:
        raise UsageError(
            f"{what} has no tag: its environment names none",
            "give the tag or @digest to promote, e.g. registry promote --from-env dev "
            "--to-env prod 1.4.2",
        )
    text = f"{repository}{ref}" if ref.startswith("@") else f"{repository}:{ref}"
    try:
        return parse_reference(text)
    except ReferenceFormatError as exc:
        raise UsageError(f"{ref!r} is not a tag or @digest: {exc.message}") from None


def resolve(
    config: Config, args: Sequence[str], from_env: str | None, to_env: str | None
) -> Endpoints:
    """Positionals by case: no env: SRC DST; both: [REF]; --to-env: SRC;
    --from-env: [REF] DST. REF is a tag or @digest in the source environment's repository."""
    n = len(args)
    shapes = {
        (False, False): (2, 2, "SRC DST"),
        (True, True): (0, 1, "[TAG|@DIGEST]"),
        (False, True): (1, 1, "SRC"),
        (True, False): (1, 2, "[TAG|@DIGEST] DST"),
    }
    lo, hi, usage = shapes[(from_env is not None, to_env is not None)]
    if not lo <= n <= hi:
        flags = (
            " ".join(f for f, on in (("--from-env", from_env), ("--to-env", to_env)) if on)
            or "no --from-env/--to-env"
        )
        raise UsageError(
            f"registry promote with {flags} takes {usage}, got {n} argument(s)",
            "with --from-env and --to-env give at most one TAG or @DIGEST; with --to-env "
            "alone, SRC; with --from-env alone, [TAG|@DIGEST] DST",
        )
    rest = list(args)
    dst_text = rest.pop() if to_env is None else None  # DST is always last
    if from_env is not None:
        src = _target(config, from_env, "--from-env")
        source = _at(src.repository, rest.pop() if rest else src.tag, f"--from-env {from_env}")
    else:
        source = parse_reference(rest.pop())
    if to_env is None:
        return Endpoints(source, parse_reference(dst_text or ""), False)
    dst = _target(config, to_env, "--to-env")
    destination = _at(dst.repository, dst.tag or source.tag, f"--to-env {to_env}")
    return Endpoints(source, destination, dst.immutable)
