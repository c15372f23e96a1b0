"""The gallery templates, run for real.

Each template is taken from the gallery over HTTP, its waits shortened to
seconds, published, and driven by events POSTed to the live server. A real
Celery worker (with beat sweeping timers) executes the runs; emails arrive
at a real SMTP server. Each test asserts the path every contact took and
what the actions did. The product templates run for a product: their band
triggers are fired through POST /api/v1/automation/triggers/… and their
schedule by the product schedules sweep.
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from automation import schedules
from automation.models import Contact, InboxItem, Run, RunStatus
from builder.models import ApiKey, Workspace
from products import services as product_services
from products.models import Escalation
from tests.conftest import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

DELAY_SECONDS = 1
TIMEOUT_SECONDS = 3


class Journey:
    """One published template and the contacts sent through it, over the HTTP API."""

    def __init__(self, base_url: str, slug: str):
        workspace = Workspace.objects.create(name="Shop", slug="shop")
        _, key = ApiKey.objects.create_key(workspace, "tests")
        self.api = httpx.Client(
            base_url=f"{base_url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        created = self.ok(self.api.post(f"/templates/{slug}/use"), 201)
        self.workflow_id = created["id"]
        self.ok(
            self.api.put(f"/workflows/{self.workflow_id}/draft", json=shorten(created["draft"]))
        )
        published = self.ok(self.api.post(f"/workflows/{self.workflow_id}/publish"))
        assert published["status"] == "active"

    @staticmethod
    def ok(response: httpx.Response, status: int = 200):
        assert response.status_code == status, response.text
        return response.json()

    def event(self, event_type: str, email: str, data=None, properties=None, **extra):
        body = {"type": event_type, "contact": {"email": email}, "data": data or {}, **extra}
        if properties is not None:
            body["contact"]["properties"] = properties
        return self.ok(self.api.post("/events", json=body), 202)

    def contact(self, email: str, **fields) -> dict:
        return self.ok(self.api.post("/contacts/", json={"email": email, **fields}), 201)

    def patch_contact(self, contact_id: int, **fields) -> dict:
        return self.ok(self.api.patch(f"/contacts/{contact_id}/", json=fields))

    def run_of(self, email: str) -> Run:
        return wait_until(
            lambda: Run.objects.filter(workflow_id=self.workflow_id, contact__email=email).first(),
            what=f"{email} is enrolled",
        )

    def waiting_at(self, email: str, node_id: str) -> None:
        wait_until(
            lambda: Run.objects.filter(
                workflow_id=self.workflow_id,
                contact__email=email,
                status=RunStatus.WAITING,
                current_node=node_id,
            ).exists(),
            what=f"{email} waits at {node_id}",
        )

    def path(self, email: str, *, timeout: float = 30) -> list[str]:
        """Wait for the contact's run to end; return its path, read from the API."""
        run = self.run_of(email)
        wait_until(
            lambda: Run.objects.filter(pk=run.pk, status=RunStatus.COMPLETED).exists(),
            timeout=timeout,
            what=f"{email}'s run completes",
        )
        detail = self.ok(self.api.get(f"/runs/{run.pk}/"))
        assert all(step["status"] == "completed" for step in detail["steps"]), detail
        return [step["node_id"] for step in detail["steps"]]


def shorten(graph: dict) -> dict:
    """Real templates wait days; the test waits seconds."""
    for node in graph["nodes"]:
        config = node["data"]["config"]
        if node["type"] == "wait.delay":
            config.update(amount=DELAY_SECONDS, unit="seconds")
        if node["type"] == "wait.event":
            config["timeout"] = {"amount": TIMEOUT_SECONDS, "unit": "seconds"}
    return graph


def subjects(outbox, email: str) -> list[str]:
    return [message["subject"] for message in outbox.to(email)]


@pytest.fixture
def journey(live_server):
    return lambda slug: Journey(live_server.url, slug)


def test_welcome_series(journey, outbox):
    flow = journey("welcome-series")
    flow.event("signup", "ada@example.com", properties={"first_name": "Ada", "used_product": True})
    flow.event("signup", "bob@example.com", properties={"used_product": False})

    head = ["signup", "welcome_email", "wait_1d", "used_product"]
    tail = ["wait_3d", "checkin_email", "end"]
    assert flow.path("ada@example.com") == [*head, "tips_email", *tail]
    assert flow.path("bob@example.com") == [*head, "help_email", *tail]
    assert len(outbox.to("ada@example.com")) == 3
    assert "Hi Ada," in outbox.to("ada@example.com")[0]["body"]
    assert "Hi there," in outbox.to("bob@example.com")[0]["body"]
    assert subjects(outbox, "ada@example.com") != subjects(outbox, "bob@example.com")


def test_abandoned_cart(journey, outbox):
    flow = journey("abandoned-cart")
    cart = {"cart_url": "https://shop.example/cart/42", "total": "59.90"}
    for email in ("quick@example.com", "late@example.com", "gone@example.com"):
        flow.event("cart_created", email, data=cart)

    flow.waiting_at("quick@example.com", "wait_order_4h")
    flow.event("order_placed", "quick@example.com")
    flow.waiting_at("late@example.com", "wait_order_1d")  # after the reminder
    flow.event("order_placed", "late@example.com")

    assert flow.path("quick@example.com") == ["cart_created", "wait_order_4h", "ordered"]
    reminded = ["cart_created", "wait_order_4h", "reminder_email", "wait_order_1d"]
    assert flow.path("late@example.com") == [*reminded, "recovered"]
    assert flow.path("gone@example.com") == [*reminded, "discount_email", "end"]
    assert outbox.to("quick@example.com") == []
    assert Contact.objects.get(email="late@example.com").tags == ["recovered-cart"]
    reminder, discount = outbox.to("gone@example.com")
    assert "https://shop.example/cart/42" in reminder["body"] and "59.90" in reminder["body"]
    assert "COMEBACK10" in discount["body"]


def test_post_purchase(journey, outbox):
    flow = journey("post-purchase")
    buyers = {"five@example.com": 5, "two@example.com": 2, "four@example.com": 4}
    for email in [*buyers, "silent@example.com"]:
        flow.event("order_placed", email, data={"order": "A-1"})
    for email, rating in buyers.items():
        flow.waiting_at(email, "wait_review")
        flow.event("review_submitted", email, data={"rating": rating})

    start = ["order_placed", "wait_3d", "review_request_email", "wait_review"]
    assert flow.path("five@example.com") == [*start, "rating_5", "referral_email", "tag_promoter"]
    assert flow.path("two@example.com") == [*start, "rating_5", "low_rating", "notify_team"]
    assert flow.path("four@example.com") == [*start, "rating_5", "low_rating", "thanks_email"]
    assert flow.path("silent@example.com") == [*start, "no_review"]
    assert Contact.objects.get(email="five@example.com").tags == ["promoter"]
    assert len(outbox.to("five@example.com")) == 2  # review request, referral
    alert = InboxItem.objects.get(kind="notification")
    assert alert.contact.email == "two@example.com"


def test_re_engagement(journey, outbox):
    flow = journey("re-engagement")
    long_ago = (timezone.now() - timedelta(days=40)).isoformat()
    for email in ("opens@example.com", "ignores@example.com", "active@example.com"):
        flow.event("login", email, occurred_at=long_ago)
    flow.event("login", "active@example.com")  # logged in today: not inactive

    assert schedules.enrol_inactive_contacts() == 2  # what beat runs every 5 minutes
    flow.waiting_at("opens@example.com", "wait_open")
    flow.event("email_opened", "opens@example.com")

    assert flow.path("opens@example.com") == ["inactive_30d", "miss_you_email", "wait_open",
                                              "tag_reengaged"]  # fmt: skip
    assert flow.path("ignores@example.com") == [
        "inactive_30d", "miss_you_email", "wait_open", "resend_email", "wait_open_again",
        "sales_task",
    ]  # fmt: skip
    assert not Run.objects.filter(contact__email="active@example.com").exists()
    first, second = subjects(outbox, "ignores@example.com")
    assert first != second  # the resend has a new subject
    task = InboxItem.objects.get(kind="task")
    assert (task.assignee, task.title) == ("sales", "Call ignores@example.com")
    assert Contact.objects.get(email="opens@example.com").tags == ["re-engaged"]


def test_lead_nurturing(journey, outbox):
    flow = journey("lead-nurturing")
    hot = flow.contact("hot@example.com", properties={"lead_score": 70})
    cold = flow.contact("cold@example.com", properties={"lead_score": 10})
    flow.patch_contact(hot["id"], tags=["lead"])  # getting the tag enrols
    flow.patch_contact(cold["id"], tags=["lead"])

    series = ["lead_tagged", "guide_email", "wait_3d", "case_study_email", "wait_4d",
              "checklist_email", "wait_2d", "lead_score"]  # fmt: skip
    assert flow.path("hot@example.com") == [*series, "tag_mql", "sales_task"]
    assert flow.path("cold@example.com") == [*series, "tag_nurture_complete"]
    assert len(outbox.to("hot@example.com")) == 3
    assert "mql" in Contact.objects.get(email="hot@example.com").tags
    assert "nurture-complete" in Contact.objects.get(email="cold@example.com").tags
    assert InboxItem.objects.get(kind="task").assignee == "sales"


def test_pricing_intent(journey, outbox):
    flow = journey("pricing-intent")
    flow.event("page_viewed", "reader@example.com", data={"page": "blog"})
    flow.event("page_viewed", "replies@example.com", data={"page": "pricing"})
    flow.event("page_viewed", "quiet@example.com", data={"page": "pricing"})
    flow.waiting_at("replies@example.com", "wait_reply")
    flow.event("email_replied", "replies@example.com")

    start = ["viewed_pricing", "tag_high_intent", "notify_team", "case_study_email", "wait_reply"]
    assert flow.path("replies@example.com") == [*start, "replied"]
    assert flow.path("quiet@example.com") == [*start, "offer_email"]
    assert not Run.objects.filter(contact__email="reader@example.com").exists()
    assert Contact.objects.get(email="quiet@example.com").tags == ["high-intent"]
    assert len(outbox.to("quiet@example.com")) == 2  # case study, then the offer
    assert len(outbox.to("replies@example.com")) == 1
    notes = set(InboxItem.objects.values_list("body", flat=True))
    assert notes == {"replies@example.com looked at pricing", "quiet@example.com looked at pricing"}


class ProductJourney(Journey):
    """A product template, published, run for one product of the workspace."""

    def __init__(self, base_url: str, slug: str):
        super().__init__(base_url, slug)
        self.product = self.ok(
            self.api.post(
                "/products",
                json={
                    "name": "Atlas",
                    "manager_email": "pm@example.com",
                    "executive_email": "ceo@example.com",
                    "features": [{"key": "reports", "name": "Reports", "target_size": 20}],
                },
            ),
            201,
        )

    def fire(self, kind: str, band: str, value: float, **extra) -> None:
        body = {"product": self.product["id"], "band": band, "value": value, **extra}
        self.ok(self.api.post(f"/automation/triggers/{kind}", json=body), 202)

    def paths(self, count: int) -> dict[str, list[str]]:
        """Wait for `count` completed runs; their paths by the band that started them."""

        def ended():
            runs = Run.objects.filter(workflow_id=self.workflow_id, status=RunStatus.COMPLETED)
            return list(runs.select_related("trigger_event")) if runs.count() == count else None

        runs = wait_until(ended, what=f"{count} product runs complete")
        assert all(run.product_id == self.product["id"] for run in runs)
        return {
            run.trigger_event.data.get("band"): [
                step["node_id"] for step in self.ok(self.api.get(f"/runs/{run.pk}/"))["steps"]
            ]
            for run in runs
        }


@pytest.fixture
def product_journey(live_server):
    return lambda slug: ProductJourney(live_server.url, slug)


def test_feature_adoption_bands(product_journey, outbox):
    flow = product_journey("feature-adoption")
    for band, value in (("low", 10), ("medium", 40), ("high", 65), ("growth", 85)):
        flow.fire("feature-adoption", band, value, feature="reports")

    head = ["adoption_entered", "adoption_band"]
    assert flow.paths(4) == {
        "low": [*head, "plan_onboarding"],
        "medium": [*head, "notify_growing"],
        "high": [*head, "notify_adopted"],
        "growth": [*head, "growth_email"],
    }
    task = InboxItem.objects.get(kind="task")
    assert task.title == "Reports adoption is low (10.0 %): plan onboarding"
    assert task.assignee == "pm@example.com"
    notes = set(InboxItem.objects.filter(kind="notification").values_list("body", flat=True))
    assert notes == {
        "Reports (Atlas) is growing: 40.0 % of its target users use it.",
        "Reports (Atlas) is adopted: 65.0 % of its target users use it.",
    }
    assert subjects(outbox, "pm@example.com") == ["Reports passed 80 % adoption"]


def test_product_health_escalation(product_journey, outbox):
    flow = product_journey("product-health")
    for band, value in (("critical", 30), ("declining", 50), ("stable", 70), ("optimal", 90)):
        flow.fire("product-health", band, value)

    head = ["health_entered", "health_band"]
    assert flow.paths(4) == {
        "critical": [*head, "escalate_critical"],
        "declining": [*head, "guide_declining"],
        "stable": [*head, "notify_stable"],
        "optimal": [*head, "optimal_email"],
    }
    levels = dict(Escalation.objects.values_list("title", "level"))
    assert levels == {"Atlas health is critical (30.0)": 2, "Atlas health is declining (50.0)": 1}
    wait_until(lambda: len(outbox.to("pm@example.com")) == 2, what="the PM got two emails")
    assert sorted(subjects(outbox, "pm@example.com")) == [
        "Atlas health is optimal (90.0)",
        "[Cairn L2] Atlas health is critical (30.0)",
    ]
    guidance = InboxItem.objects.get(title__startswith="[L1")
    assert guidance.body.startswith("Check the error rate")
    notes = set(InboxItem.objects.filter(kind="notification").values_list("body", flat=True))
    assert "Atlas health is stable again (70.0)." in notes


def test_weekly_product_summary(product_journey, outbox, http_target):
    flow = product_journey("weekly-product-summary")
    usage = [
        {"id": f"s{n}", "type": "session", "contact": {"email": f"u{n}@example.com"}}
        for n in range(4)
    ] + [
        {"id": "r1", "type": "feature_used", "contact": {"email": "u1@example.com"},
         "data": {"feature": "reports"}},
    ]  # fmt: skip
    flow.ok(flow.api.post(f"/products/{flow.product['id']}/events", json={"events": usage}), 202)
    product_services.refresh_product(flow.product["id"])
    # It is Monday 9:00 somewhere: the schedule is due now.
    from automation.models import TriggerBinding

    def monday() -> None:
        TriggerBinding.objects.filter(deployment_id=flow.workflow_id).update(
            next_fire_at=timezone.now()
        )
        assert product_services.fire_product_schedules() == 1

    monday()
    assert flow.paths(1) == {None: ["every_monday", "digest_email", "digest_slack"]}
    # One digest, to both owners.
    (digest,) = outbox.to("pm@example.com")
    assert digest["to"] == ["pm@example.com", "ceo@example.com"]
    assert digest["subject"] == "Atlas: health 34.4 this week"
    assert "Active users: 4" in digest["body"]
    assert "- Reports: 5.0 % of 20" in digest["body"]
    # No Slack connection picked yet: the team's digest is in the inbox.
    note = InboxItem.objects.get()
    assert note.title == "Weekly summary: Atlas"
    assert note.body.startswith("Health 34.4 (change None), 4 active users")

    # The team picks its Slack connection in the digest step (the Slack API is a
    # local stand-in): next Monday's digest is posted to #product.
    slack = flow.ok(
        flow.api.post(
            "/connections/",
            json={
                "name": "Team Slack",
                "provider": "slack",
                "settings": {"base_url": http_target.url},
                "secrets": {"bot_token": "xoxb-1"},
            },
        ),
        201,
    )
    draft = flow.ok(flow.api.get(f"/workflows/{flow.workflow_id}/"))["draft"]
    step = next(node for node in draft["nodes"] if node["id"] == "digest_slack")
    step["data"]["config"]["channel"] = str(slack["id"])
    saved = flow.ok(flow.api.put(f"/workflows/{flow.workflow_id}/draft", json=draft))
    assert saved.get("issues", []) == []
    flow.ok(flow.api.post(f"/workflows/{flow.workflow_id}/publish"))
    http_target.answer(body=b'{"ok": true, "channel": "C1", "ts": "1.2"}')
    monday()
    flow.paths(2)
    [posted] = http_target.requests
    assert posted["path"] == "/chat.postMessage"
    assert posted["headers"]["authorization"] == "Bearer xoxb-1"
    message = json.loads(posted["body"])
    assert message["channel"] == "#product"
    assert message["text"].startswith("*Weekly summary: Atlas*\nHealth 34.4")
    assert "- Reports: 5.0 % adoption" in message["text"]
    assert InboxItem.objects.count() == 1  # not the inbox this time
    assert len(outbox.to("ceo@example.com")) == 2


def test_feature_launch_campaign(journey, outbox):
    flow = journey("feature-launch")
    product = flow.ok(
        flow.api.post("/products", json={"name": "Atlas", "features": [{"key": "reports"}]}), 201
    )
    launch = {"feature_name": "Reports"}
    for email in ("tries@example.com", "ignores@example.com"):
        flow.event("feature_launched", email, data=launch, properties={"first_name": "Sam"})
    flow.waiting_at("tries@example.com", "wait_first_use")
    used = {"type": "feature_used", "contact": {"email": "tries@example.com"},
            "data": {"feature": "reports"}}  # fmt: skip
    flow.ok(flow.api.post(f"/products/{product['id']}/events", json=used), 202)

    head = ["launched", "announce_email", "wait_first_use"]
    assert flow.path("tries@example.com") == [*head, "tag_adopter"]
    assert flow.path("ignores@example.com") == [
        *head, "reminder_email", "wait_second_chance", "notify_team"]  # fmt: skip
    assert Contact.objects.get(email="tries@example.com").tags == ["launch-adopter"]
    assert subjects(outbox, "tries@example.com") == ["New: Reports"]
    assert subjects(outbox, "ignores@example.com") == [
        "New: Reports", "Have you tried Reports yet?"]  # fmt: skip
    assert InboxItem.objects.get().body == (
        "ignores@example.com has not tried Reports two weeks after its launch."
    )
