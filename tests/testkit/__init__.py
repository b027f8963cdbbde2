"""Helpers shared by the test suites (imported as ``testkit``; ``tests/`` is on the path)."""
