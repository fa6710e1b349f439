"""Fixtures for the checks of the built site in ``_build/html`` (``make site-check``).

The site must have been built first (``make build-check`` or ``make book``); ``make test`` runs
unit, notebooks, build-check and then site-check, in that order.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sitehelpers import (AXE_VERSION, CACHE, CHROMIUM_ARGS, HTML, SCREENSHOTS, find_chromium,
                         serve)


@pytest.fixture(scope="session")
def site() -> Path:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"no built site in {HTML}: run `make build-check` (or `make book`) first")
    return HTML


@pytest.fixture(scope="session")
def server(site):
    """An HTTP server for _build/html on 127.0.0.1 and a free port; yields its base URL."""
    with serve(site) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="Playwright is not installed (pip install playwright)")
    executable = find_chromium()
    with sync_api.sync_playwright() as pw:
        try:
            if executable:
                chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            else:  # Playwright's own browser, if `playwright install chromium` worked here
                chromium = pw.chromium.launch(args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - any launch failure means "no browser here"
            pytest.skip(
                "no usable Chromium for the browser tests (tried "
                f"{executable or 'Playwright bundled chromium'}): {str(exc).splitlines()[0]}. "
                "Install Debian's: apt-get install -y chromium (or set CHROMIUM_PATH)"
            )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The source of axe-core's axe.min.js, installed with npm into a cache directory on first use."""
    target = CACHE / f"axe-core-{AXE_VERSION}"
    script = target / "node_modules" / "axe-core" / "axe.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed, so axe-core cannot be installed for the "
                        "accessibility check (apt-get install -y npm)")
        target.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [npm, "install", "--prefix", str(target), "--no-save", "--no-audit", "--no-fund",
             "--loglevel=error", f"axe-core@{AXE_VERSION}"],
            capture_output=True, text=True, timeout=180,
        )
        if result.returncode != 0 or not script.is_file():
            pytest.fail(f"npm could not install axe-core into {target}:\n{result.stderr[-2000:]}")
    return script.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """A fresh _build/screenshots/{light,dark}/ (and axe-report.txt) for this run."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    for mode in ("light", "dark"):
        (SCREENSHOTS / mode).mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
