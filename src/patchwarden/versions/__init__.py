"""Tag version schemes: parsing, ordering and update compatibility."""

from patchwarden.versions.docker_tag import (
    DockerTag,
    Incompatibility,
    UpdateKind,
    compatible_candidates,
    incompatibility,
    is_newer,
    parse_tag,
    update_kind,
)

__all__ = [
    "DockerTag",
    "Incompatibility",
    "UpdateKind",
    "compatible_candidates",
    "incompatibility",
    "is_newer",
    "parse_tag",
    "update_kind",
]
