"""patchwarden: keep container images patched."""

__version__ = "0.1.0"
