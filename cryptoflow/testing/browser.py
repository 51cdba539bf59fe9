"""A real headless Chromium for tests that look at pages (the dashboard, the backtest reports):
Debian's ``chromium`` and ``chromium-driver`` through Selenium, console messages kept.

>>> with headless_chromium(window_size=(1280, 2600)) as driver:  # doctest: +SKIP
...     driver.get(report.as_uri())
...     driver.save_screenshot("artifacts/report.png")
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["CHROMEDRIVER", "CHROMIUM", "headless_chromium"]

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@contextmanager
def headless_chromium(
    *, window_size: tuple[int, int] = (1280, 2600), flags: tuple[str, ...] = ()
) -> Iterator[Any]:
    """A Selenium Chrome driver on a fresh profile (removed afterwards), with the browser's console log
    (``driver.get_log("browser")``). ``RuntimeError`` when chromium or its driver is missing
    (``scripts/setup`` installs them). ``flags``: more command-line switches."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        raise RuntimeError("Debian's chromium and chromium-driver are needed (scripts/setup installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cryptoflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={window_size[0]},{window_size[1]}",
        "--disable-dev-shm-usage",
        *flags,
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
