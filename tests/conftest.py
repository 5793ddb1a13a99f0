"""Test-suite settings shared by every module."""

import os

from hypothesis import settings

# CI runs a fixed sequence of examples (reproducible); local runs explore at random.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
