"""Test-suite settings shared by every module."""

import os

from hypothesis import settings

# CI runs a fixed sequence of examples (reproducible); local runs explore at random.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_configure(config: object) -> None:
    """Keep the suite's dataset cache out of the user's cache directory."""
    import tempfile

    os.environ.setdefault("RISKENGINE_CACHE_DIR", tempfile.mkdtemp(prefix="riskengine-test-cache-"))
