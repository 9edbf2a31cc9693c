"""/docs in a real browser (headless Chromium, as the Studio page test drives it): Swagger UI
loads from the runner alone, reads the OpenAPI 3.1 document without an error and shows
every operation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from convoship_dev.docs_pages import DocsPages
from convoship_dev.openapi import combined_openapi
from convoship_dev.server import make_server
from convoship_dev.template import load_template
from tests.support.browser import chromium_driver

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / ".test-output"  # git-ignored
OPERATIONS = sum(
    len(ops) for ops in json.loads((ROOT / "openapi.json").read_text())["paths"].values()
)


@pytest.fixture
def served(base_env: dict[str, str]) -> Iterator[str]:
    pages = DocsPages(combined_openapi)
    server = make_server(load_template(ROOT / "template.yaml"), port=0, pages=pages)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_swagger_ui_shows_every_operation_from_local_files(served: str) -> None:
    with chromium_driver() as driver:
        driver.get(f"{served}/docs")
        WebDriverWait(driver, 30).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) >= OPERATIONS
        )
        assert len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) == OPERATIONS
        assert not driver.find_elements(By.CSS_SELECTOR, ".errors-wrapper")  # parsed cleanly
        loaded: list[Any] = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert f"{served}/openapi.json" in loaded
        assert all(url.startswith(served + "/") for url in loaded), loaded  # nothing else
        assert driver.find_elements(By.CSS_SELECTOR, ".btn.authorize")  # the studio bearer
        OUTPUT.mkdir(exist_ok=True)
        driver.save_screenshot(str(OUTPUT / "docs.png"))
