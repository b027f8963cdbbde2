"""``builds:``: the images the team builds itself (``rebuild``): where from, the tag scheme,
the tests, file assertions, health probe and scan gate a new build must pass before its push,
and the key that signs it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from patchwarden.config.fields import Duration, Strict


class BuildTest(Strict):
    """One command run inside the new image (``podman run --rm IMAGE CMD...``)."""

    name: str | None = Field(None, description="shown in the report; default: the command")
    run: list[str] = Field(min_length=1, description="argv, run without a shell")
    timeout: Duration = Field(timedelta(minutes=2), description="the test fails past this")
    exit_code: int = Field(0, description="expected exit status")
    stdout_contains: str | None = Field(None, description="text the output must contain")


class FileAssertion(Strict):
    """A file in the new image (container-structure-test style)."""

    path: str = Field(description="absolute path inside the image")
    exists: bool = True
    contains: str | None = Field(None, description="text the file must contain")

    @field_validator("path")
    @classmethod
    def _absolute(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError(f"file assertion path {v!r} must be absolute (start with /)")
        return v


class HealthProbe(Strict):
    """Start the image and wait for an HTTP endpoint to answer 2xx/3xx."""

    port: int = Field(ge=1, le=65535, description="container port to publish on loopback")
    path: str = "/"
    timeout: Duration = timedelta(seconds=30)


NewVulnGate = Literal["critical", "high", "medium", "low", "any", "off"]


class BuildGates(Strict):
    new_vulnerabilities: NewVulnGate = Field(
        "high",
        description="stop the push when the new image introduces a vulnerability at or above "
        "this severity (any: every new one; off: no scan gate)",
    )


TAG_FIELDS = ("version", "date", "n", "revision")


class BuildConfig(Strict):
    """One image the team builds itself (``rebuild``)."""

    name: str | None = Field(None, description="default: the destination repository")
    context: str = Field(".", description="build context directory, relative to the config")
    dockerfile: str | None = Field(
        None, description="relative to the context; default Containerfile, else Dockerfile"
    )
    target: str | None = Field(None, description="build stage to build")
    build_args: dict[str, str] = Field(default_factory=dict)
    destination: str = Field(description="REGISTRY/REPO the image is pushed to")
    version: str | None = Field(None, description="{version} in the tag; default: base tag")
    tag_scheme: str = Field(
        "{version}-{date}.{n}",
        description="immutable tag; fields {version} {date} {n} {revision}; must contain {n}",
    )
    moving_tag: str | None = Field("latest", description="tag moved to every new build")
    tests: list[BuildTest] = Field(default_factory=list)
    files: list[FileAssertion] = Field(default_factory=list)
    health: HealthProbe | None = None
    gates: BuildGates = Field(default_factory=BuildGates)
    signing_key: str | None = Field(
        None,
        description="private key (cosign or PEM) that signs every pushed build, relative to "
        "the config; password from PATCHWARDEN_SIGNING_PASSWORD or COSIGN_PASSWORD",
    )

    @field_validator("tag_scheme")
    @classmethod
    def _scheme(cls, v: str) -> str:
        fields = re.findall(r"{([^{}]*)}", v)
        unknown = [f for f in fields if f not in TAG_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown field {{{unknown[0]}}} in tag scheme {v!r}: use {{version}}, "
                "{date}, {n}, {revision}"
            )
        if "n" not in fields:
            raise ValueError(
                f"tag scheme {v!r} has no {{n}}: an immutable tag needs the build number"
            )
        return v

    @field_validator("destination")
    @classmethod
    def _destination(cls, v: str) -> str:
        if "@" in v or ":" in v.rsplit("/", 1)[-1] or "/" not in v:
            raise ValueError(
                f"destination {v!r} must be REGISTRY/REPO without tag or digest, "
                "e.g. registry.example.com/team/app"
            )
        return v
