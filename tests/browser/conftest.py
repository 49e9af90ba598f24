"""Browser fixtures: one real app process (granian) for the session, Debian's Chromium through Playwright.

Every test gets fresh browser contexts (no cookie leaks between tests; a test that plays two people opens
two). When a test fails, each page it opened leaves a screenshot and its HTML under
`test-artifacts/browser/<test>/`, with the browser console and the end of the app's log.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from coins.lib.embedded import free_port
from tests.conftest import PASSWORD
from tests.support.chromium import LAUNCH_ARGS, ChromiumUnavailable, ensure_chromium
from tests.support.servers import PROJECT_ROOT, AppProcess

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
FAILURES = ARTIFACTS / "browser"
SCREENSHOTS = ARTIFACTS / "screenshots"

# Playwright waits this long for an element or a navigation before a test fails (ms). Pages here answer in
# milliseconds; the margin is for a loaded CI machine.
ACTION_TIMEOUT = 10_000

_reports = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Remember each phase's report, so fixtures can tell in their teardown whether the test failed."""
    report: pytest.TestReport = yield
    item.stash.setdefault(_reports, {})[report.when] = report
    return report


def _failed(node: pytest.Item) -> bool:
    reports = node.stash.get(_reports, {})
    return any(report.failed for report in reports.values())


@pytest.fixture(scope="session")
def chromium_path() -> str:
    try:
        return ensure_chromium()
    except ChromiumUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def live_server(app_env: Callable[..., dict[str, str]]) -> Iterator[AppProcess]:
    """The real app as production runs it. Rate limits are off (app_env); links in emails point here."""
    port = free_port()
    server = AppProcess(env=app_env(BASE_URL=f"http://127.0.0.1:{port}", LOG_LEVEL="INFO"), port=port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if server.log_path is not None:
            server.log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
async def browser(playwright: Playwright, chromium_path: str) -> AsyncIterator[Browser]:
    browser = await playwright.chromium.launch(executable_path=chromium_path, args=LAUNCH_ARGS)
    yield browser
    await browser.close()


NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture
async def new_context(
    browser: Browser, live_server: AppProcess, request: pytest.FixtureRequest
) -> AsyncIterator[NewContext]:
    """Open a fresh browser context (its own cookies); all are closed, and kept as evidence on failure."""
    contexts: list[tuple[BrowserContext, list[str]]] = []

    async def factory(**options: Any) -> BrowserContext:
        context = await browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(ACTION_TIMEOUT)
        console: list[str] = []

        def watch(page: Page) -> None:
            page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
            page.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))

        context.on("page", watch)
        contexts.append((context, console))
        return context

    yield factory

    failed = _failed(request.node)
    if failed:
        folder = FAILURES / re.sub(r"[^\w.-]+", "_", request.node.nodeid.split("::", 1)[-1])
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "app.log").write_text(live_server.log_text())
    for number, (context, console) in enumerate(contexts, start=1):
        if failed:
            await _keep_evidence(context, console, folder, f"context{number}")
        await context.close()


async def _keep_evidence(context: BrowserContext, console: list[str], folder: Path, name: str) -> None:
    for index, page in enumerate(context.pages, start=1):
        stem = folder / f"{name}-page{index}"
        try:
            await page.screenshot(path=f"{stem}.png", full_page=True, timeout=5_000)
            stem.with_suffix(".html").write_text(f"<!-- {page.url} -->\n{await page.content()}")
        except Exception as exc:  # evidence is best effort: the test has failed already
            stem.with_suffix(".error.txt").write_text(f"{page.url}: {exc!r}")
    if console:
        (folder / f"{name}-console.txt").write_text("\n".join(console) + "\n")


@pytest.fixture
async def context(new_context: NewContext) -> BrowserContext:
    return await new_context()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


# Helpers for the tests -----------------------------------------------------------------------------------


@pytest.fixture
def screenshot() -> Callable[[Page, str], Awaitable[None]]:
    """Full-page screenshot into test-artifacts/screenshots/<name>.png, to look at the pages by eye."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def take(page: Page, name: str) -> None:
        await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    return take


@pytest.fixture
def register_user(live_server: AppProcess) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Create an account through the JSON API, as a script would."""

    async def create(email: str, name: str = "Ada Lovelace", password: str = PASSWORD) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=live_server.url) as client:
            response = await client.post(
                "/api/auth/register", json={"email": email, "password": password, "full_name": name}
            )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    return create


async def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the form, like a person would."""
    await page.goto("/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("button", name="Log out").wait_for()


@pytest.fixture
def login() -> Callable[[Page, str, str], Awaitable[None]]:
    return log_in
