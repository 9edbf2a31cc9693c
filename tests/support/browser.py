"""Headless Chromium from the distribution's packages, driven through its chromedriver.

`ensure_chromium()` installs `chromium` and `chromium-driver` with apt-get when they are
missing (CI runs as root on a clean machine), so the browser tests never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)


def ensure_chromium() -> None:
    """Install Chromium and its driver from Debian's packages when either is missing."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("chromium is missing and there is no apt-get to install it")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, apt, "update"], check=True, env=environ, capture_output=True)
    subprocess.run(
        [*sudo, apt, "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
        check=True,
        env=environ,
        capture_output=True,
    )
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        raise RuntimeError("apt-get installed chromium but /usr/bin/chromium is still missing")


@contextmanager
def chromium_driver() -> Iterator[Any]:
    """A headless Chromium (fresh profile) under selenium, quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    ensure_chromium()
    with tempfile.TemporaryDirectory(prefix="convoship-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()
