"""A non-staff workspace member logs in through the app's own login page and gets the canvas."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import E2E_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def fill_login_form(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_a_non_staff_member_logs_in_and_lands_on_the_workflows(page, editor_user):
    user = editor_user(role="editor")
    assert not user.is_staff

    fill_login_form(page, user.get_username(), E2E_PASSWORD)
    page.wait_for_url("**/workflows/")
    page.wait_for_load_state("networkidle")

    assert page.locator("#root").count() == 1
    assert page.locator(".cairn-bundle-missing").count() == 0
    assert page.console_problems == []


def test_a_wrong_password_stays_on_the_login_page(page, editor_user):
    user = editor_user()

    fill_login_form(page, user.get_username(), "not the password")

    assert page.url.endswith("/login/")
    assert page.get_by_role("alert").is_visible()
    assert page.console_problems == []
