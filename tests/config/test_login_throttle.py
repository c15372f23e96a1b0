"""Failed logins and wrong API keys are throttled by account and by address.

Invariants (config/login_throttle.py, builder/api/key_throttle.py):
- after the limit, a locked account is refused even with the right password,
  on the login page and the admin's, with a page saying when to try again
  (429, Retry-After); so is any account from the locked address;
- another account from another address logs in as before;
- once the cool-off has passed, the right password works again;
- an address that sent too many wrong API keys gets 429 with Retry-After,
  its good keys too; other addresses are not affected.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from builder.api import key_throttle
from builder.models import Role
from tests.builder.factories import MembershipFactory, UserFactory, make_api_key

PASSWORD = "the-right-password-42"
ATTACKER = "203.0.113.5"
ELSEWHERE = "198.51.100.7"


def person(username: str, **extra):
    user = UserFactory(username=username, **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def pass_the_cool_off(settings) -> None:
    """What the clock would do: every counted failure is older than the cool-off."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "staff"), [("/login/", False), ("/admin/login/", True)], ids=["app", "admin"]
)
def test_sixty_wrong_passwords_lock_the_account_and_the_address_until_the_cool_off(
    settings, path, staff
):
    settings.AXES_FAILURE_LIMIT = 10
    ada = person("ada", is_staff=staff)
    person("bob", is_staff=staff)
    attacker = Client(REMOTE_ADDR=ATTACKER)

    statuses = [
        attacker.post(path, {"username": "ada", "password": f"guess-{n}"}).status_code
        for n in range(60)
    ]
    right = attacker.post(path, {"username": "ada", "password": PASSWORD})

    # The first failures show the form again; then every attempt is refused.
    assert statuses[:9] == [200] * 9
    assert set(statuses[10:]) == {429}
    assert right.status_code == 429
    assert not logged_in(attacker)
    page = right.content.decode()
    assert "Too many failed logins" in page
    assert "Try again in 15 minutes." in page
    assert right["Retry-After"] == "900"

    # The account is locked from anywhere, and the address for any account.
    ada_elsewhere = Client(REMOTE_ADDR=ELSEWHERE)
    assert ada_elsewhere.post(path, {"username": "ada", "password": PASSWORD}).status_code == 429
    bob_there = Client(REMOTE_ADDR=ATTACKER)
    assert bob_there.post(path, {"username": "bob", "password": PASSWORD}).status_code == 429

    # Another account from another address is not affected.
    bob = Client(REMOTE_ADDR=ELSEWHERE)
    assert bob.post(path, {"username": "bob", "password": PASSWORD}).status_code == 302
    assert logged_in(bob)

    # After the cool-off the right password works again.
    pass_the_cool_off(settings)
    again = Client(REMOTE_ADDR=ATTACKER)
    assert again.post(path, {"username": "ada", "password": PASSWORD}).status_code == 302
    assert int(again.session["_auth_user_id"]) == ada.pk


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_header_does_not_change_the_address(settings):
    settings.AXES_FAILURE_LIMIT = 3
    person("ada")
    person("bob")
    for n in range(5):
        Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").post(
            "/login/", {"username": "ada", "password": "wrong"}
        )

    bob = Client(REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert bob.post("/login/", {"username": "bob", "password": PASSWORD}).status_code == 429


# ---------------------------------------------------------------- API keys


@pytest.fixture
def api_throttle(settings):
    settings.API_KEY_FAILURE_LIMIT = 20
    settings.API_KEY_FAILURE_WINDOW_SECONDS = 300
    for address in (ATTACKER, ELSEWHERE):
        key_throttle.forget(address)
    yield
    for address in (ATTACKER, ELSEWHERE):
        key_throttle.forget(address)


@pytest.mark.django_db
def test_wrong_api_keys_from_one_address_get_429_after_the_limit(api_throttle):
    membership = MembershipFactory(role=Role.ADMIN)
    _key, good = make_api_key(membership.workspace, Role.ADMIN)

    def call(address: str, key: str):
        client = APIClient(REMOTE_ADDR=address)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client.get("/api/v1/workflows/")

    wrong = [call(ATTACKER, f"cairn_guess{n:04d}").status_code for n in range(20)]
    refused = call(ATTACKER, "cairn_guess-after-the-limit")
    good_from_there = call(ATTACKER, good)
    good_elsewhere = call(ELSEWHERE, good)

    assert wrong == [401] * 20
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 301
    assert "too many wrong API keys from this address" in refused.json()["detail"]
    assert good_from_there.status_code == 429
    assert good_elsewhere.status_code == 200
