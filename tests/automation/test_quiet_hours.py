"""Quiet hours hold emails and webhooks until morning in the contact's time zone."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from automation.engine import Outcome, advance_run
from automation.models import Run, RunStatus
from automation.quiet_hours import quiet_until
from tests.automation.workflows import chain, graph, node, path_of, published, send

NIGHT = {"start": "21:00", "end": "08:00"}
LUNCH = {"start": "12:00", "end": "13:30"}


@pytest.mark.parametrize(
    ("window", "local_now", "zone", "expected_local_end"),
    [
        (NIGHT, "2026-03-02T23:15", "Europe/Paris", "2026-03-03T08:00"),
        (NIGHT, "2026-03-03T06:59", "Europe/Paris", "2026-03-03T08:00"),
        (NIGHT, "2026-03-03T08:00", "Europe/Paris", None),
        (NIGHT, "2026-03-03T14:00", "America/New_York", None),
        (LUNCH, "2026-03-03T12:30", "Asia/Tokyo", "2026-03-03T13:30"),
        (LUNCH, "2026-03-03T13:30", "Asia/Tokyo", None),
    ],
)
def test_quiet_until_reads_the_window_in_the_contacts_zone(
    window, local_now, zone, expected_local_end
):
    from zoneinfo import ZoneInfo

    now = datetime.fromisoformat(local_now).replace(tzinfo=ZoneInfo(zone))
    result = quiet_until(window, now, zone)
    if expected_local_end is None:
        assert result is None
    else:
        expected = datetime.fromisoformat(expected_local_end).replace(tzinfo=ZoneInfo(zone))
        assert result == expected.astimezone(UTC)


@pytest.mark.django_db
def test_an_email_in_quiet_hours_waits_for_them_to_end_but_tags_go_on():
    now = timezone.now().astimezone(UTC)
    # A window that contains "now" in UTC and ends 30 minutes from now.
    window = {"start": (now - timedelta(hours=1)).strftime("%H:%M"),
              "end": (now + timedelta(minutes=30)).strftime("%H:%M")}  # fmt: skip
    start = node("start", "trigger.event", event="signup")
    tag = node("tag", "action.tag", add=["new"])
    mail = node("mail", "action.email", subject="Hi", body="Welcome")
    published(graph([start, tag, mail], chain(start, tag, mail), quiet_hours=window))
    send("signup", "ada@example.com")
    run = Run.objects.get()

    assert advance_run(run.pk) is Outcome.WAITING
    run.refresh_from_db()
    assert path_of(run) == ["start", "tag"]  # the email was not visited yet
    assert run.status == RunStatus.WAITING
    assert timedelta(minutes=28) < run.resume_at - timezone.now() <= timedelta(minutes=31)
