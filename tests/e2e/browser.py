"""A real browser for the admin UI's tests: the machine's Chromium (Debian's `chromium` package),
driven by Playwright for Python through `executable_path`, so that no browser is downloaded.

A missing browser fails the test with the command that installs it; it never skips.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

INSTALL = "sudo apt-get install -y chromium  (or run `make setup`, which installs it when missing)"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Where the pages' screenshots go: docs/screenshots/ (the README shows them) when
# SFGR_UPDATE_SCREENSHOTS=1, to refresh them after a page changed; otherwise a scratch directory,
# so that a test run leaves the checkout as it was.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("SFGR_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "sfgr-screenshots"
)


def chromium_executable() -> str:
    """SFGR_TEST_CHROMIUM, else the first Chromium on PATH."""
    given = os.environ.get("SFGR_TEST_CHROMIUM")
    if given:
        if not Path(given).is_file():
            pytest.fail(f"SFGR_TEST_CHROMIUM={given} is not a file; install the browser with: {INSTALL}")
        return given
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"no Chromium on PATH for the admin UI's browser tests; install it with: {INSTALL}")
