"""The Studio audit page in a real browser: headless Chromium (Debian's package, installed
by tests/support/browser.py when missing) against the whole API served on loopback, as
`convoship serve` serves it."""

from __future__ import annotations

import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.types.json import Jsonb
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from convoship_dev.server import make_server
from convoship_dev.template import load_template
from tests.support.agents import SLUG, TOOL, Conn, Token, create_agent, created
from tests.support.api_client import ApiClient
from tests.support.browser import chromium_driver

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / ".test-output"  # git-ignored
HOSTILE = "<img src=x onerror=alert(1)>"
BASE = f"/v1/ai-agents/{SLUG}"
# Runs before any page script, whatever the page's CSP: records alert() calls.
ALERT_TRAP = (
    "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"
)


@pytest.fixture
def served(base_env: dict[str, str]) -> Iterator[str]:
    server = make_server(load_template(ROOT / "template.yaml"), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_driver() as driver:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ALERT_TRAP})
        yield driver


def seed_120_events(api: ApiClient, token: Token, workspace: uuid.UUID, owner_sql: Conn) -> None:
    """agent.created, 115 agent updates, a tool created and updated (timeout 10 -> 20), an
    event naming a hostile tool (the API refuses such names: written as a row from elsewhere
    would be), and an update by a user whose id is hostile: 120 events."""
    editor = token(workspace, "editor", sub="ed-1")
    agent = create_agent(api, editor, slug=SLUG)
    for n in range(115):
        response = api.patch(BASE, token=editor, json={"description": f"rev {n}"})
        assert response.status == 200, response.text
    tool = created(api.post(f"{BASE}/tools", token=editor, json=TOOL))
    changed = api.patch(
        f"{BASE}/tools/{tool['id']}", token=editor, json={"config": {"timeout_s": 20}}
    )
    assert changed.status == 200, changed.text
    owner_sql.execute(
        "INSERT INTO ai_agent_audit_events (workspace_id, agent_id, agent_slug, actor_type,"
        " actor_id, action, resource_type, resource_id, after_state)"
        " VALUES (%s, %s, %s, 'user', 'ed-1', 'tool.created', 'tool', %s, %s)",
        (workspace, agent["id"], SLUG, HOSTILE, Jsonb({"name": HOSTILE})),
    )
    hostile_editor = token(workspace, "editor", sub=HOSTILE)
    assert api.patch(BASE, token=hostile_editor, json={"description": HOSTILE}).status == 200


def rows(driver: Any) -> list[Any]:
    return list(driver.find_elements(By.CSS_SELECTOR, "#event-rows tr.event"))


def test_audit_page_in_headless_chromium(
    served: str,
    browser: Any,
    api: ApiClient,
    token: Token,
    workspace: uuid.UUID,
    owner_sql: Conn,
) -> None:
    seed_120_events(api, token, workspace, owner_sql)
    page = f"{served}/app/agents/{SLUG}/audit"
    with urllib.request.urlopen(page, timeout=10) as response:  # the shell: public, strict CSP
        csp = response.headers["content-security-policy"]
        html = response.read().decode()
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in html and "//" not in html.replace("http://", "")  # no inline, no CDN

    browser.get(page)
    wait = WebDriverWait(browser, 15)
    wait.until(ready.visibility_of_element_located((By.ID, "sign-in-form")))
    studio_token = token(workspace, "viewer", sub="reviewer")
    browser.find_element(By.ID, "token").send_keys(studio_token)
    browser.find_element(By.ID, "sign-in-button").click()
    wait.until(lambda d: len(rows(d)) == 100)

    # newest first: the hostile user's update, then the hostile tool event, then the tool update
    shown = rows(browser)
    assert [r.find_element(By.CSS_SELECTOR, ".action").text for r in shown[:3]] == [
        "agent.updated",
        "tool.created",
        "tool.updated",
    ]
    times = [r.find_element(By.CSS_SELECTOR, ".time").text for r in shown]
    assert times == sorted(times, reverse=True)
    assert shown[0].find_element(By.CSS_SELECTOR, ".actor").text == f"user: {HOSTILE}"
    assert HOSTILE in shown[1].find_element(By.CSS_SELECTOR, ".resource").text
    assert HOSTILE in shown[1].find_element(By.CSS_SELECTOR, ".changes").text
    change = shown[2].find_element(By.CSS_SELECTOR, 'li.change[data-path="config.timeout_s"]')
    assert change.find_element(By.CSS_SELECTOR, ".before").text == "10"
    assert change.find_element(By.CSS_SELECTOR, ".after").text == "20"
    assert shown[-1].find_element(By.CSS_SELECTOR, ".action").text == "agent.updated"

    # the hostile text stayed text: no element made of it, no script ran
    assert browser.find_elements(By.CSS_SELECTOR, "#event-rows img") == []
    assert browser.execute_script("return window.__alerts") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018
    # the token lives in this tab's session storage, never in the URL
    assert studio_token not in browser.current_url
    stored = browser.execute_script("return sessionStorage.getItem('convoship.studioToken')")
    assert stored == studio_token
    OUTPUT.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(OUTPUT / "studio-audit-page.png"))

    # an expired token: back to the sign-in step, the token forgotten
    expired = token(workspace, "viewer", ttl_s=-60)
    browser.execute_script("sessionStorage.setItem('convoship.studioToken', arguments[0])", expired)
    browser.refresh()
    wait.until(ready.visibility_of_element_located((By.ID, "sign-in-form")))
    assert "expired" in browser.find_element(By.ID, "sign-in-message").text
    assert not browser.find_element(By.ID, "events").is_displayed()
    assert browser.execute_script("return sessionStorage.getItem('convoship.studioToken')") is None


def test_a_malformed_escape_in_the_path_leaves_the_page_working(
    served: str, browser: Any, token: Token, workspace: uuid.UUID
) -> None:
    """decodeURIComponent throws on `%E0%A4%A`: the page shows the raw slug and still works."""
    browser.get(f"{served}/app/agents/bad%E0%A4%A/audit")
    browser.execute_script("sessionStorage.removeItem('convoship.studioToken')")
    browser.refresh()
    wait = WebDriverWait(browser, 15)
    wait.until(ready.visibility_of_element_located((By.ID, "sign-in-form")))
    assert browser.find_element(By.ID, "agent-slug").text == "bad%E0%A4%A"
    browser.find_element(By.ID, "token").send_keys(token(workspace, "viewer"))
    browser.find_element(By.ID, "sign-in-button").click()
    wait.until(
        lambda d: "There is no agent named bad%E0%A4%A" in d.find_element(By.ID, "status").text
    )
