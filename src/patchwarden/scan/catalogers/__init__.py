"""The built-in catalogers, in a fixed order (no import-time registration).

Each finds packages in the files of one layer; see :class:`patchwarden.scan.model.Cataloger`.
Order: the OS first, then OS package databases (their ``owned_paths`` let the merger drop
language packages the OS installed), then language ecosystems.
"""

from __future__ import annotations

from patchwarden.scan.catalogers.apk import ApkCataloger
from patchwarden.scan.catalogers.dpkg import DpkgCataloger
from patchwarden.scan.catalogers.golang import GoBinaryCataloger
from patchwarden.scan.catalogers.java import JavaArchiveCataloger
from patchwarden.scan.catalogers.npm import NpmCataloger
from patchwarden.scan.catalogers.osrelease import OSReleaseCataloger
from patchwarden.scan.catalogers.python import PythonCataloger
from patchwarden.scan.catalogers.rpm import RpmDbCataloger
from patchwarden.scan.model import Cataloger

CATALOGERS: tuple[Cataloger, ...] = (
    OSReleaseCataloger(),
    DpkgCataloger(),
    ApkCataloger(),
    RpmDbCataloger(),
    PythonCataloger(),
    NpmCataloger(),
    GoBinaryCataloger(),
    JavaArchiveCataloger(),
)

__all__ = [
    "CATALOGERS",
    "ApkCataloger",
    "DpkgCataloger",
    "GoBinaryCataloger",
    "JavaArchiveCataloger",
    "NpmCataloger",
    "OSReleaseCataloger",
    "PythonCataloger",
    "RpmDbCataloger",
]
