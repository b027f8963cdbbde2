"""The ``scan`` use case: pick the image source, read its packages, match advisories, filter,
and apply the ignore file (:mod:`.ignore`; loading it from YAML is :mod:`.ignore_file`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
    from patchwarden.app.scan.ignore import (
        IGNORE_FILE_NAME,
        IgnoreFile,
        IgnoreRule,
        apply_ignores,
        expired_message,
        find_ignore_file,
    )
    from patchwarden.app.scan.run import (
        ScanOptions,
        ScanOutcome,
        ScanPipeline,
        ScanTarget,
        apply_filters,
        choose_target,
        exit_code,
        parse_platform,
        parse_severities,
        run_scan,
    )

EXPORTS = {
    "ignore": (
        "IGNORE_FILE_NAME",
        "IgnoreFile",
        "IgnoreRule",
        "apply_ignores",
        "expired_message",
        "find_ignore_file",
    ),
    "run": (
        "ScanPipeline",
        "ScanOptions",
        "ScanOutcome",
        "ScanTarget",
        "apply_filters",
        "choose_target",
        "exit_code",
        "parse_platform",
        "parse_severities",
        "run_scan",
    ),
}
__all__ = [
    "IGNORE_FILE_NAME",
    "IgnoreFile",
    "IgnoreRule",
    "ScanOptions",
    "ScanOutcome",
    "ScanPipeline",
    "ScanTarget",
    "apply_filters",
    "apply_ignores",
    "choose_target",
    "exit_code",
    "expired_message",
    "find_ignore_file",
    "parse_platform",
    "parse_severities",
    "run_scan",
]
__getattr__ = lazy_exports(__name__, EXPORTS)
