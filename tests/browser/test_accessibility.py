"""Accessibility smoke tests: axe-core on every main page (light and dark), and the phone layout.

axe-core comes from npm (a devDependency in package.json, installed by `npm ci`). Only violations with
impact "serious" or "critical" fail the test; the fix for one is in the templates or CSS, never an
excluded rule.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from coins.settings import Settings
from tests.browser.conftest import NewContext, log_in
from tests.conftest import PASSWORD, make_admin
from tests.support.servers import PROJECT_ROOT, unique_email

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean")]

AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")

Screenshot = Callable[[Page, str], Awaitable[None]]
RegisterUser = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` in {PROJECT_ROOT} (axe-core is a devDependency).")
    return AXE.read_text()


class Audit:
    """Runs axe on pages one after the other and collects every serious or critical violation."""

    def __init__(self, source: str, screenshot: Screenshot, suffix: str) -> None:
        self.source = source
        self.screenshot = screenshot
        self.suffix = suffix
        self.problems: list[str] = []
        self.pages: list[str] = []

    async def check(self, page: Page, name: str) -> None:
        await page.wait_for_load_state("load")
        await self.screenshot(page, name + self.suffix)
        # The app's CSP allows scripts from its own origin only ('self', no inline script): the context
        # is opened with bypass_csp=True so this test, and only this test, can add axe to the page.
        await page.add_script_tag(content=self.source)
        # Pico animates colours (0.2 s): a button still fading from its hover or focus colour after a click
        # would be measured halfway.  Colours are judged at rest: transitions end at once for the check.
        await page.add_style_tag(content="*, *::before, *::after { transition: none !important; }")
        await page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        results = await page.evaluate("() => axe.run(document, {resultTypes: ['violations'], reporter: 'v2'})")
        self.pages.append(name)
        for violation in results["violations"]:
            if violation["impact"] not in FAILING_IMPACTS:
                continue
            lines = [
                f"{name} ({page.url}): [{violation['impact']}] {violation['id']}: {violation['help']}",
                f"    {violation['helpUrl']}",
            ]
            for node in violation["nodes"][:5]:
                checks = node.get("any", []) + node.get("all", []) + node.get("none", [])
                why = "; ".join(dict.fromkeys(check["message"] for check in checks if check.get("message")))
                lines.append(f"    - {' '.join(map(str, node['target']))}: {node['html'][:160]}")
                lines.append(f"      {why[:400]}")
            if len(violation["nodes"]) > 5:
                lines.append(f"    ... and {len(violation['nodes']) - 5} more elements")
            self.problems.append("\n".join(lines))

    def assert_clean(self) -> None:
        assert not self.problems, (
            f"{len(self.problems)} serious or critical accessibility problem(s) on {len(self.pages)} pages:"
            + "".join(f"\n\n{problem}" for problem in self.problems)
        )


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_main_pages_have_no_serious_accessibility_violations(
    *,
    scheme: str,
    new_context: NewContext,
    register_user: RegisterUser,
    settings: Settings,
    axe_source: str,
    screenshot: Screenshot,
) -> None:
    audit = Audit(axe_source, screenshot, "" if scheme == "light" else "-dark")

    async def open_context() -> BrowserContext:
        return await new_context(bypass_csp=True, color_scheme=scheme)

    visitor = await (await open_context()).new_page()
    for path, name in [
        ("/", "home"),
        ("/login", "login"),
        ("/signup", "signup"),
        ("/password/forgot", "forgot"),
    ]:
        await visitor.goto(path)
        await audit.check(visitor, name)
    # A form with its error messages in place.
    await visitor.goto("/signup")
    await visitor.get_by_role("button", name="Create account").click()
    await expect(visitor.locator("[aria-invalid=true]")).to_have_count(3)
    await audit.check(visitor, "signup-errors")

    email = unique_email("member")
    member_id = (await register_user(email, "Mary Jackson"))["id"]
    member = await (await open_context()).new_page()
    await log_in(member, email)
    await member.goto("/account")
    await audit.check(member, "account")

    admin_email = unique_email("admin")
    await make_admin(settings, admin_email, PASSWORD)
    await visitor.goto("/password/forgot")
    await visitor.get_by_label("Email").fill(email)
    await visitor.get_by_role("button", name="Send the link").click()
    await expect(visitor.get_by_text("If an account exists")).to_be_visible()
    admin = await (await open_context()).new_page()
    await log_in(admin, admin_email)
    for path, name in [
        ("/admin", "admin-home"),
        ("/admin/users", "admin-users"),
        (f"/admin/users/{member_id}", "admin-user"),
        ("/admin/outbox", "admin-outbox"),
    ]:
        await admin.goto(path)
        await audit.check(admin, name)
    await admin.get_by_role("link", name="Reset your Coins for Change password").click()
    await expect(admin.get_by_role("heading", name="Links in this email")).to_be_visible()
    await audit.check(admin, "admin-email")

    audit.assert_clean()


async def test_sign_up_and_header_work_on_a_phone(new_context: NewContext, screenshot: Screenshot) -> None:
    width = 390
    phone = await new_context(viewport={"width": width, "height": 844}, is_mobile=True, has_touch=True)
    page = await phone.new_page()

    async def assert_fits(what: str) -> None:
        scroll_width = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{what}: the page scrolls sideways ({scroll_width}px > {width}px)"

    async def assert_in_view(locator: Any) -> None:
        await expect(locator).to_be_visible()
        box = await locator.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box

    await page.goto("/")
    await assert_fits("home")
    await assert_in_view(page.get_by_role("banner").get_by_role("link", name="Log in"))
    sign_up = page.get_by_role("banner").get_by_role("button", name="Sign up")
    await assert_in_view(sign_up)
    await screenshot(page, "phone-home")
    await sign_up.tap()

    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await assert_fits("sign-up form")
    for label in ("Your name", "Email", "Password"):
        await assert_in_view(page.get_by_label(label))
    await page.get_by_label("Your name").fill("Mary Jackson")
    await page.get_by_label("Email").fill(unique_email("mary"))
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").tap()
    await expect(page.get_by_text("The password needs")).to_be_visible()
    await assert_fits("sign-up form with errors")
    await screenshot(page, "phone-signup-errors")

    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").tap()
    await expect(page.locator("#messages")).to_contain_text("Welcome, Mary Jackson!")
    await assert_fits("home, logged in")
    header = page.get_by_role("banner")
    await assert_in_view(header.get_by_role("link", name="Mary", exact=True))
    await assert_in_view(header.get_by_role("button", name="Log out"))
    await screenshot(page, "phone-home-logged-in")

    await header.get_by_role("button", name="Log out").tap()
    await expect(page.get_by_text("You are logged out.")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/login$"))
