"""User journeys through the real UI: a real Chromium, the real app process, htmx and all.

Each test does what a person does: reads labels, types, clicks buttons by their names, and checks what
the page says. Two people (a user and an admin) use two browser contexts, that is, two separate sets of
cookies, side by side.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from coins.accounts.models import User
from coins.settings import Settings
from tests.browser.conftest import NewContext, log_in
from tests.conftest import PASSWORD, make_admin
from tests.support.servers import unique_email

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("clean")]

Screenshot = Callable[[Page, str], Awaitable[None]]
RegisterUser = Callable[..., Awaitable[dict[str, Any]]]

PASSWORD_RULE = "The password needs at least 8 characters"


async def user_count(db_engine: AsyncEngine) -> int:
    async with db_engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(User))).scalar_one())


def header(page: Page) -> Any:
    return page.get_by_role("banner")


def flash(page: Page) -> Any:
    return page.locator("#messages")


async def test_sign_up_rejects_a_weak_password_then_logs_the_new_member_in(
    page: Page, db_engine: AsyncEngine, screenshot: Screenshot
) -> None:
    email = unique_email("grace")
    await page.goto("/")
    # Styled as a button (Pico: <a role="button">), so that is its role for assistive technology too.
    await header(page).get_by_role("button", name="Sign up").click()
    await expect(page).to_have_url(re.compile(r"/signup$"))
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()

    await page.get_by_label("Your name").fill("Grace Hopper")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("weak")
    await page.get_by_role("button", name="Create account").click()

    # The rule is shown right under the password field and announced as its description.
    password = page.get_by_label("Password")
    rule = page.get_by_text(PASSWORD_RULE)
    await expect(rule).to_be_visible()
    await expect(password).to_have_attribute("aria-invalid", "true")
    await expect(password).to_have_accessible_description(re.compile(PASSWORD_RULE))
    field_box, rule_box = await password.bounding_box(), await rule.bounding_box()
    assert field_box and rule_box
    assert 0 <= rule_box["y"] - (field_box["y"] + field_box["height"]) < 40, (field_box, rule_box)
    # What was typed is kept (but not the password), and nobody is logged in or created.
    await expect(page.get_by_label("Your name")).to_have_value("Grace Hopper")
    await expect(page.get_by_label("Email")).to_have_value(email)
    await expect(password).to_have_value("")
    await expect(header(page).get_by_role("link", name="Log in")).to_be_visible()
    await screenshot(page, "journey-signup-weak-password")
    assert await user_count(db_engine) == 0

    await password.fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()

    await expect(flash(page)).to_contain_text("Welcome, Grace Hopper! Your account is ready.")
    await expect(page).to_have_url(re.compile(r"/$"))
    await expect(header(page).get_by_role("link", name="Grace", exact=True)).to_be_visible()
    await expect(header(page).get_by_role("button", name="Log out")).to_be_visible()
    assert await user_count(db_engine) == 1


async def test_log_in_log_out_and_pages_that_need_an_account(page: Page, register_user: RegisterUser) -> None:
    email = unique_email("alan")
    await register_user(email, "Alan Turing")

    await page.goto("/")
    await header(page).get_by_role("link", name="Log in").click()
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(flash(page)).to_contain_text("Welcome back, Alan Turing.")
    await expect(header(page).get_by_role("link", name="Alan", exact=True)).to_be_visible()

    await header(page).get_by_role("button", name="Log out").click()
    await expect(flash(page)).to_contain_text("You are logged out.")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(header(page).get_by_role("link", name="Alan", exact=True)).to_have_count(0)

    # A page that needs an account sends a visitor to the log-in form, and back after logging in.
    response = await page.goto("/account")
    assert response is not None
    redirect = response.request.redirected_from
    assert redirect is not None, "GET /account was not redirected"
    first_answer = await redirect.response()
    assert first_answer is not None and first_answer.status == 303
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(re.compile(r"/account$"))
    await expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    # The session ends behind the page's back (expired, logged out elsewhere): following a boosted
    # (htmx) link must land on the log-in form as a whole page, not swap it into the old one.
    await page.context.clear_cookies()
    async with page.expect_response(lambda r: r.url.endswith("/account")) as answer:
        await header(page).get_by_role("link", name="Alan", exact=True).click()
    assert (await answer.value).headers.get("hx-redirect") == "/login?next=%2Faccount"
    await expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    await expect(page.get_by_role("heading", name="Log in")).to_have_count(1)


async def test_five_wrong_passwords_lock_the_account(
    page: Page, register_user: RegisterUser, screenshot: Screenshot
) -> None:
    email = unique_email("mallory")
    await register_user(email, "Mallory Example")
    await page.goto("/login")
    error = page.get_by_role("alert")

    async def attempt(password: str) -> None:
        # Wait until htmx has swapped in the answer, so the next attempt types into the new form (a
        # late swap would otherwise wipe what was typed and submit an empty password).
        form = page.locator("form[action='/login']")
        await form.evaluate("form => { form.dataset.answered = 'yes'; }")
        await page.get_by_label("Email").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("form[action='/login'][data-answered]")).to_have_count(0)
        await expect(form).to_have_count(1)

    for number in range(1, 5):
        await attempt(f"Wrong-Guess-{number}")
        await expect(error).to_contain_text("Wrong email or password.")
        if number >= 3:
            left = 5 - number
            await expect(error).to_contain_text(f"{left} attempt{'s' if left > 1 else ''} left")

    await attempt("Wrong-Guess-5")
    await expect(error).to_contain_text(re.compile(r"locked until \d\d:\d\d UTC"))
    shown_time = re.search(r"locked until (\d\d):(\d\d) UTC", await error.inner_text())
    assert shown_time is not None
    hour, minute = int(shown_time[1]), int(shown_time[2])
    expected = datetime.now(UTC) + timedelta(minutes=15)
    shown = expected.replace(hour=hour, minute=minute, second=0, microsecond=0)
    gap = abs((shown - expected).total_seconds()) % (24 * 3600)
    assert min(gap, 24 * 3600 - gap) <= 120, f"lock time {hour:02}:{minute:02}, expected about {expected:%H:%M}"
    await screenshot(page, "journey-login-locked")

    # Now even the right password is refused, with the same message, and nobody is logged in.
    await attempt(PASSWORD)
    await expect(error).to_contain_text(f"locked until {hour:02}:{minute:02} UTC")
    await expect(header(page).get_by_role("button", name="Log out")).to_have_count(0)


async def test_password_reset_through_the_outbox(
    new_context: NewContext, register_user: RegisterUser, settings: Settings
) -> None:
    email = unique_email("ada")
    await register_user(email, "Ada Lovelace")
    admin_email = unique_email("admin")
    await make_admin(settings, admin_email, PASSWORD)
    new_password = "Brand-New-Pass-7"

    user = await (await new_context()).new_page()
    await user.goto("/login")
    await user.get_by_role("link", name="Forgot your password?").click()
    await expect(user.get_by_role("heading", name="Reset your password")).to_be_visible()
    await user.get_by_label("Email").fill(email)
    await user.get_by_role("button", name="Send the link").click()
    await expect(flash(user)).to_contain_text("If an account exists for that address")
    await expect(user).to_have_url(re.compile(r"/login$"))

    admin = await (await new_context()).new_page()
    await log_in(admin, admin_email)
    await header(admin).get_by_role("link", name="Admin", exact=True).click()
    await admin.get_by_role("navigation", name="Admin").get_by_role("link", name="Outbox").click()
    await expect(admin.get_by_role("heading", name="Outbox")).to_be_visible()
    row = admin.get_by_role("row").filter(has_text=email)
    await expect(row).to_have_count(1)
    await row.get_by_role("link", name="Reset your Coins for Change password").click()
    await expect(admin.get_by_role("heading", name="Links in this email")).to_be_visible()
    link = admin.get_by_role("link", name="/password/reset/")
    await expect(link).to_have_count(1)
    reset_url = await link.get_attribute("href")
    assert reset_url and reset_url.startswith(user.url.split("/login")[0] + "/password/reset/"), reset_url

    await user.goto(reset_url)
    await expect(user.get_by_role("heading", name="Choose a new password")).to_be_visible()
    await user.get_by_label("New password", exact=True).fill(new_password)
    await user.get_by_role("button", name="Set new password").click()
    await expect(flash(user)).to_contain_text("Your new password is set. Log in with it now.")

    await log_in(user, email, new_password)
    await expect(header(user).get_by_role("link", name="Ada", exact=True)).to_be_visible()
    await header(user).get_by_role("button", name="Log out").click()
    await expect(flash(user)).to_contain_text("You are logged out.")

    await user.get_by_label("Email").fill(email)
    await user.get_by_label("Password").fill(PASSWORD)
    await user.get_by_role("button", name="Log in").click()
    await expect(user.get_by_role("alert")).to_contain_text("Wrong email or password.")

    # The link works once.
    await user.goto(reset_url)
    await expect(user.get_by_text("This password reset link is invalid, already used")).to_be_visible()


async def test_admin_grants_and_revokes_a_role_effective_on_the_next_request(
    new_context: NewContext, register_user: RegisterUser, settings: Settings, screenshot: Screenshot
) -> None:
    email = unique_email("katherine")
    await register_user(email, "Katherine Johnson")
    await register_user(unique_email("dorothy"), "Dorothy Vaughan")
    admin_email = unique_email("admin")
    await make_admin(settings, admin_email, PASSWORD)

    member = await (await new_context()).new_page()
    await log_in(member, email)
    await expect(header(member).get_by_role("link", name="Admin", exact=True)).to_have_count(0)

    admin = await (await new_context()).new_page()
    await log_in(admin, admin_email)
    await header(admin).get_by_role("link", name="Admin", exact=True).click()
    await admin.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    await expect(admin.get_by_role("heading", name="Users")).to_be_visible()
    table = admin.get_by_role("table")
    await expect(table.get_by_role("row")).to_have_count(4)  # header + three people

    # Typing filters the table in place (htmx): the page is not reloaded, the address follows.
    await admin.evaluate("window.notReloaded = true")
    await admin.get_by_label("Search by name or email").press_sequentially("katherine")
    await expect(admin).to_have_url(re.compile(r"/admin/users\?q=katherine$"))
    await expect(table.get_by_role("row")).to_have_count(2)
    await expect(table.get_by_role("link", name="Katherine Johnson")).to_be_visible()
    assert await admin.evaluate("window.notReloaded") is True
    await screenshot(admin, "journey-admin-users-search")

    await table.get_by_role("link", name="Katherine Johnson").click()
    await expect(admin.get_by_role("heading", name="Katherine Johnson")).to_be_visible()
    await admin.get_by_role("button", name="Grant admin role").click()
    await expect(flash(admin)).to_contain_text("Katherine Johnson is now an admin.")
    await expect(admin.get_by_role("button", name="Revoke admin role")).to_be_visible()
    await screenshot(admin, "journey-admin-user-granted")

    # The member's very next page load knows, without logging in again.
    await member.reload()
    await header(member).get_by_role("link", name="Admin", exact=True).click()
    await expect(member.get_by_role("heading", name="Admin", exact=True)).to_be_visible()
    response = await member.goto("/admin")
    assert response is not None
    assert response.status == 200

    await admin.get_by_role("button", name="Revoke admin role").click()
    await expect(flash(admin)).to_contain_text("Katherine Johnson is no longer an admin.")

    response = await member.goto("/admin")
    assert response is not None
    assert response.status == 403
    await expect(member.get_by_role("heading", name="Not allowed")).to_be_visible()
    await expect(header(member).get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    await expect(header(member).get_by_role("link", name="Katherine", exact=True)).to_be_visible()
