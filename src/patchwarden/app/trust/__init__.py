"""Verify where images come from: signatures (``verify``) and the ``trust:`` gate that
``check``, ``update``, ``engine update`` and ``registry promote`` apply to candidates."""

from patchwarden.app.trust.model import Expected, Found, Require, Verification

__all__ = ["Expected", "Found", "Require", "Verification"]
