"""The templates gallery: every template is a complete, valid, tidy workflow.

A template is what a new team publishes first, often without changing a node,
so each one must pass the same validation as a hand-built graph, and its
branches must say what its description promises. The path tests below walk
each graph the way the engine does (a node's handle picks its one outgoing
edge) and pin the exact node ids on every branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from automation.nodes.registry import get_node_type
from automation.rules import evaluate
from automation.templating import render_field
from builder import gallery
from builder.gallery import CATEGORIES, get_template, list_templates
from builder.validation import validate_graph

SLUGS = (
    "welcome-series",
    "abandoned-cart",
    "post-purchase",
    "re-engagement",
    "lead-nurturing",
    "pricing-intent",
    "feature-adoption",
    "product-health",
    "weekly-product-summary",
    "feature-launch",
)


# ---------------------------------------------------------------- helpers


def nodes_by_id(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {node["id"]: node for node in template["graph"]["nodes"]}


def config_of(template: Mapping[str, Any], node_id: str) -> dict[str, Any]:
    return nodes_by_id(template)[node_id]["data"]["config"]


def next_node(graph: Mapping[str, Any], source: str, handle: str = "out") -> str | None:
    targets = [
        edge["target"]
        for edge in graph["edges"]
        if edge["source"] == source and (edge.get("sourceHandle") or "out") == handle
    ]
    assert len(targets) <= 1, f"{source}/{handle} leads to {targets}"
    return targets[0] if targets else None


def walk(template: Mapping[str, Any], **handles: str) -> list[str]:
    """Node ids visited from the trigger; `handles` picks the output of branching nodes."""
    graph = template["graph"]
    node_id = trigger_of(template)["id"]
    path = [node_id]
    while True:
        nxt = next_node(graph, node_id, handles.get(node_id, "out"))
        if nxt is None:
            return path
        assert nxt not in path, f"loop at {nxt}"
        path.append(nxt)
        node_id = nxt


def trigger_of(template: Mapping[str, Any]) -> dict[str, Any]:
    triggers = [n for n in template["graph"]["nodes"] if n["type"].startswith("trigger.")]
    assert len(triggers) == 1
    return triggers[0]


@pytest.fixture(params=SLUGS)
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    found = get_template(request.param)
    assert found is not None, request.param
    return found


# ---------------------------------------------------------------- the gallery


def test_every_template_is_listed() -> None:
    assert sorted(t["slug"] for t in list_templates()) == sorted(SLUGS)


def test_templates_are_listed_by_category_in_gallery_order() -> None:
    categories = [t["category"] for t in list_templates()]
    assert categories == sorted(categories, key=CATEGORIES.index)


def test_get_template_of_an_unknown_slug_is_none() -> None:
    assert get_template("nope") is None
    assert get_template("../settings") is None
    assert get_template(None) is None  # type: ignore[arg-type]


def test_callers_get_copies() -> None:
    # Invariant: "use this template" edits the graph it gets; the gallery stays intact.
    first = get_template("welcome-series")
    first["graph"]["nodes"].clear()
    first["name"] = "changed"
    again = get_template("welcome-series")
    assert again["graph"]["nodes"] and again["name"] == "Welcome series"
    listed = list_templates()
    listed[0]["graph"]["edges"].clear()
    assert list_templates()[0]["graph"]["edges"]


def test_files_are_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    list_templates()

    def fail(path: Any) -> None:
        raise AssertionError(f"read {path} again")

    monkeypatch.setattr(gallery, "_load", fail)
    assert len(list_templates()) == len(SLUGS)
    assert get_template("abandoned-cart") is not None


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ("{not json", "oops.json"),
        (
            '{"slug": "other", "name": "n", "description": "d", "category": "sales", "graph": {}}',
            "must match the file name",
        ),
        (
            '{"slug": "oops", "name": "n", "description": "d", "category": "misc", "graph": {}}',
            "category 'misc'",
        ),
        ('{"slug": "oops", "name": "n", "category": "sales", "graph": {}}', "missing description"),
    ],
)
def test_a_broken_template_file_is_reported_by_name(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, document: str, error: str
) -> None:
    (tmp_path / "oops.json").write_text(document)
    monkeypatch.setattr(gallery, "GALLERY_DIR", tmp_path)
    gallery._templates.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match=error):
            list_templates()
    finally:
        # The next caller reloads the real gallery (monkeypatch restores the folder).
        gallery._templates.cache_clear()


def test_template_fields(template: dict[str, Any]) -> None:
    assert set(template) == {"slug", "name", "description", "category", "tags", "graph"}
    assert template["name"].strip()
    assert len(template["description"]) > 80
    assert template["category"] in CATEGORIES
    # Every template emails someone, or escalates (which emails the product's owners).
    assert "email" in template["tags"] or "escalation" in template["tags"]
    assert set(template["graph"]) == {"nodes", "edges", "settings"}
    assert set(template["graph"]["settings"]) == {"reenrollment", "exit_when", "quiet_hours"}
    assert template["graph"]["settings"]["quiet_hours"] is None


def test_template_passes_validation(template: dict[str, Any]) -> None:
    assert [issue.as_dict() for issue in validate_graph(template["graph"])] == []


def test_node_and_edge_ids_are_unique(template: dict[str, Any]) -> None:
    node_ids = [node["id"] for node in template["graph"]["nodes"]]
    edge_ids = [edge["id"] for edge in template["graph"]["edges"]]
    assert len(node_ids) == len(set(node_ids))
    assert len(edge_ids) == len(set(edge_ids))


def test_every_node_has_a_label_and_known_type(template: dict[str, Any]) -> None:
    for node in template["graph"]["nodes"]:
        assert get_node_type(node["type"]) is not None, node["id"]
        assert node["data"]["label"].strip(), node["id"]


def test_every_path_starts_at_a_trigger_and_ends_on_an_action_or_end(
    template: dict[str, Any],
) -> None:
    graph = template["graph"]
    trigger_of(template)
    sources = {edge["source"] for edge in graph["edges"]}
    for node in graph["nodes"]:
        if node["id"] in sources:
            continue
        category = get_node_type(node["type"]).category
        assert category in ("action", "flow"), f"{node['id']} ({node['type']}) ends a path"


def test_branch_edges_name_their_handle(template: dict[str, Any]) -> None:
    nodes = nodes_by_id(template)
    for edge in template["graph"]["edges"]:
        if get_node_type(nodes[edge["source"]]["type"]).branching:
            assert edge.get("sourceHandle"), edge["id"]


def test_layout_is_top_down_and_nodes_do_not_overlap(template: dict[str, Any]) -> None:
    nodes = nodes_by_id(template)
    for edge in template["graph"]["edges"]:
        source, target = nodes[edge["source"]], nodes[edge["target"]]
        assert target["position"]["y"] > source["position"]["y"], edge["id"]
    positions = [(n["id"], n["position"]["x"], n["position"]["y"]) for n in nodes.values()]
    for i, (a, ax, ay) in enumerate(positions):
        for b, bx, by in positions[i + 1 :]:
            if ay == by:
                assert abs(ax - bx) >= 300, f"{a} and {b} overlap"


def test_waits_use_real_durations(template: dict[str, Any]) -> None:
    for node in template["graph"]["nodes"]:
        config = node["data"]["config"]
        if node["type"] == "wait.delay":
            assert config["unit"] == "days", node["id"]
        if node["type"] == "wait.event":
            assert config["timeout"]["unit"] in ("hours", "days"), node["id"]


def test_emails_greet_by_first_name_with_a_fallback(template: dict[str, Any]) -> None:
    scope = {"contact": {"email": "ann@example.com", "properties": {}}, "event": {"data": {}}}
    for node in template["graph"]["nodes"]:
        if node["type"] != "action.email" or node["data"]["config"].get("to"):
            continue  # an email to someone else than the contact (a product's owner)
        body = node["data"]["config"]["body"]
        assert 'contact.first_name | default("there")' in body, node["id"]
        assert render_field("body", body, scope).startswith("Hi there,"), node["id"]
        named = {**scope, "contact": {"email": "a@b.c", "properties": {"first_name": "Ann"}}}
        assert render_field("body", body, named).startswith("Hi Ann,"), node["id"]


# ---------------------------------------------------------------- each template


def test_welcome_series() -> None:
    t = get_template("welcome-series")
    assert config_of(t, "signup") == {"event": "signup"}
    assert config_of(t, "wait_1d") == {"amount": 1, "unit": "days"}
    assert config_of(t, "used_product")["rules"] == [
        {"field": "contact.properties.used_product", "op": "eq", "value": True}
    ]
    assert config_of(t, "wait_3d") == {"amount": 3, "unit": "days"}
    head = ["signup", "welcome_email", "wait_1d", "used_product"]
    tail = ["wait_3d", "checkin_email", "end"]
    assert walk(t, used_product="yes") == [*head, "tips_email", *tail]
    assert walk(t, used_product="no") == [*head, "help_email", *tail]


def test_abandoned_cart() -> None:
    t = get_template("abandoned-cart")
    assert config_of(t, "cart_created") == {"event": "cart_created"}
    assert config_of(t, "wait_order_4h") == {
        "event": "order_placed",
        "timeout": {"amount": 4, "unit": "hours"},
    }
    assert config_of(t, "wait_order_1d") == {
        "event": "order_placed",
        "timeout": {"amount": 1, "unit": "days"},
    }
    assert "{{ event.data.cart_url }}" in config_of(t, "reminder_email")["body"]
    assert "{{ event.data.total }}" in config_of(t, "reminder_email")["body"]
    assert "COMEBACK10" in config_of(t, "discount_email")["body"]
    # The waits themselves watch for the order, so no exit rule is needed and
    # a late order takes the "recovered" branch (tagged for reporting).
    assert t["graph"]["settings"]["exit_when"] is None
    assert config_of(t, "recovered") == {"add": ["recovered-cart"]}
    assert walk(t, wait_order_4h="received") == ["cart_created", "wait_order_4h", "ordered"]
    reminded = ["cart_created", "wait_order_4h", "reminder_email", "wait_order_1d"]
    assert walk(t, wait_order_4h="timeout", wait_order_1d="received") == [
        *reminded,
        "recovered",
    ]
    assert walk(t, wait_order_4h="timeout", wait_order_1d="timeout") == [
        *reminded,
        "discount_email",
        "end",
    ]


def test_post_purchase() -> None:
    t = get_template("post-purchase")
    assert config_of(t, "order_placed") == {"event": "order_placed"}
    assert config_of(t, "wait_3d") == {"amount": 3, "unit": "days"}
    assert config_of(t, "wait_review") == {
        "event": "review_submitted",
        "timeout": {"amount": 7, "unit": "days"},
    }
    rating = "steps.wait_review.event.data.rating"
    assert config_of(t, "rating_5")["rules"] == [{"field": rating, "op": "eq", "value": 5}]
    assert config_of(t, "low_rating")["rules"] == [{"field": rating, "op": "lte", "value": 3}]
    assert config_of(t, "tag_promoter") == {"add": ["promoter"]}
    head = ["order_placed", "wait_3d", "review_request_email", "wait_review"]
    assert walk(t, wait_review="timeout") == [*head, "no_review"]
    assert walk(t, wait_review="received", rating_5="yes") == [
        *head,
        "rating_5",
        "referral_email",
        "tag_promoter",
    ]
    assert walk(t, wait_review="received", rating_5="no", low_rating="yes") == [
        *head,
        "rating_5",
        "low_rating",
        "notify_team",
    ]
    assert walk(t, wait_review="received", rating_5="no", low_rating="no") == [
        *head,
        "rating_5",
        "low_rating",
        "thanks_email",
    ]
    # The rating comes from the review_submitted event the wait received.
    scope = {"steps": {"wait_review": {"event": {"data": {"rating": 5}}}}}
    assert evaluate("all", config_of(t, "rating_5")["rules"], scope)


def test_re_engagement() -> None:
    t = get_template("re-engagement")
    assert trigger_of(t)["type"] == "trigger.inactivity"
    assert config_of(t, "inactive_30d") == {"event": "login", "days": 30}
    for wait in ("wait_open", "wait_open_again"):
        assert config_of(t, wait) == {
            "event": "email_opened",
            "timeout": {"amount": 7, "unit": "days"},
        }
    assert config_of(t, "resend_email")["subject"] != config_of(t, "miss_you_email")["subject"]
    assert config_of(t, "tag_reengaged") == {"add": ["re-engaged"]}
    assert config_of(t, "tag_reengaged_late") == {"add": ["re-engaged"]}
    task = config_of(t, "sales_task")
    assert (task["title"], task["assignee"]) == ("Call {{ contact.email }}", "sales")
    assert t["graph"]["settings"]["exit_when"] == {"event": "login"}
    assert walk(t, wait_open="received") == [
        "inactive_30d",
        "miss_you_email",
        "wait_open",
        "tag_reengaged",
    ]
    resent = ["inactive_30d", "miss_you_email", "wait_open", "resend_email", "wait_open_again"]
    assert walk(t, wait_open="timeout", wait_open_again="received") == [
        *resent,
        "tag_reengaged_late",
    ]
    assert walk(t, wait_open="timeout", wait_open_again="timeout") == [*resent, "sales_task"]


def test_lead_nurturing() -> None:
    t = get_template("lead-nurturing")
    assert trigger_of(t)["type"] == "trigger.segment"
    assert config_of(t, "lead_tagged") == {"tag": "lead"}
    assert config_of(t, "lead_score")["rules"] == [
        {"field": "contact.properties.lead_score", "op": "gte", "value": 50}
    ]
    assert config_of(t, "tag_mql") == {"add": ["mql"]}
    assert config_of(t, "tag_nurture_complete") == {"add": ["nurture-complete"]}
    assert config_of(t, "sales_task")["assignee"] == "sales"
    series = [
        "lead_tagged",
        "guide_email",
        "wait_3d",
        "case_study_email",
        "wait_4d",
        "checklist_email",
        "wait_2d",
        "lead_score",
    ]
    assert walk(t, lead_score="yes") == [*series, "tag_mql", "sales_task"]
    assert walk(t, lead_score="no") == [*series, "tag_nurture_complete"]
    emails = [n for n in t["graph"]["nodes"] if n["type"] == "action.email"]
    assert len(emails) == 3


def test_pricing_intent() -> None:
    t = get_template("pricing-intent")
    assert config_of(t, "viewed_pricing")["event"] == "page_viewed"
    assert config_of(t, "viewed_pricing")["rules"] == [
        {"field": "event.data.page", "op": "eq", "value": "pricing"}
    ]
    assert config_of(t, "tag_high_intent") == {"add": ["high-intent"]}
    assert config_of(t, "notify_team")["message"] == "{{ contact.email }} looked at pricing"
    assert config_of(t, "wait_reply") == {
        "event": "email_replied",
        "timeout": {"amount": 2, "unit": "days"},
    }
    head = ["viewed_pricing", "tag_high_intent", "notify_team", "case_study_email", "wait_reply"]
    assert walk(t, wait_reply="received") == [*head, "replied"]
    assert walk(t, wait_reply="timeout") == [*head, "offer_email"]


def band_case(config: Mapping[str, Any], band: str) -> str:
    """Which handle a condition.switch on event.data.band takes for a band entered."""
    for case in config["cases"]:
        if evaluate(case.get("match", "all"), case["rules"], {"event": {"data": {"band": band}}}):
            return case["handle"]
    return "default"


def test_feature_adoption_uses_the_real_band_trigger() -> None:
    t = get_template("feature-adoption")
    assert trigger_of(t)["type"] == "trigger.feature_adoption"
    assert config_of(t, "adoption_entered") == {"band": "any"}
    switch = config_of(t, "adoption_band")
    bands = {"low": "low", "medium": "medium", "high": "high", "growth": "default"}
    for band, handle in bands.items():
        assert band_case(switch, band) == handle, band
    head = ["adoption_entered", "adoption_band"]
    assert walk(t, adoption_band="low") == [*head, "plan_onboarding"]
    assert walk(t, adoption_band="medium") == [*head, "notify_growing"]
    assert walk(t, adoption_band="high") == [*head, "notify_adopted"]
    assert walk(t, adoption_band="default") == [*head, "growth_email"]
    assert config_of(t, "plan_onboarding")["assignee"] == "{{ event.data.product.manager_email }}"
    # The product manager; in a preview (no product) the sample contact.
    assert config_of(t, "growth_email")["to"] == (
        '{{ event.data.product.manager_email or contact.email or "" }}'
    )


def test_product_health_uses_the_real_trigger_and_escalation_levels() -> None:
    t = get_template("product-health")
    assert trigger_of(t)["type"] == "trigger.product_health"
    switch = config_of(t, "health_band")
    bands = {"critical": "critical", "declining": "declining", "stable": "stable"}
    for band, handle in {**bands, "optimal": "default"}.items():
        assert band_case(switch, band) == handle, band
    head = ["health_entered", "health_band"]
    assert walk(t, health_band="critical") == [*head, "escalate_critical"]
    assert walk(t, health_band="declining") == [*head, "guide_declining"]
    assert walk(t, health_band="stable") == [*head, "notify_stable"]
    assert walk(t, health_band="default") == [*head, "optimal_email"]
    critical = config_of(t, "escalate_critical")
    assert (critical["level"], critical["max_level"]) == (2, 3)
    assert critical["acknowledge_within"] == {"amount": 4, "unit": "hours"}
    declining = config_of(t, "guide_declining")
    assert (declining["level"], declining["max_level"]) == (1, 2)
    assert declining["guidance"]


def test_weekly_product_summary() -> None:
    t = get_template("weekly-product-summary")
    assert config_of(t, "every_monday") == {"cron": "0 9 * * 1", "timezone": "UTC"}
    assert walk(t) == ["every_monday", "digest_email", "digest_slack"]
    email = config_of(t, "digest_email")
    metrics = {
        "health_score": 71.5,
        "health_trend": -2.0,
        "active_users": 40,
        "engagement": 3.1,
        "error_rate": 1.5,
        "nps": 20.0,
        "features": {"reports": {"name": "Reports", "adoption": 65.0, "target": 20, "trend": 5.0}},
    }
    scope = {"event": {"data": {"product": {"name": "Atlas"}, "metrics": metrics}}}
    assert render_field("subject", email["subject"], scope) == "Atlas: health 71.5 this week"
    body = render_field("body", email["body"], scope)
    assert "Active users: 40" in body
    assert "- Reports: 65.0 % of 20 (trend 5.0)" in body
    # To both owners (one address when they are the same person, or one is missing).
    owners = {"name": "Atlas", "manager_email": "pm@x.io", "executive_email": "ceo@x.io"}
    for product, to in [
        (owners, "pm@x.io, ceo@x.io"),
        ({**owners, "executive_email": "pm@x.io"}, "pm@x.io"),
        ({**owners, "executive_email": ""}, "pm@x.io"),
    ]:
        assert render_field("to", email["to"], {"event": {"data": {"product": product}}}) == to
    # The team's digest: the inbox until a Slack connection is picked, then #product.
    digest = config_of(t, "digest_slack")
    assert (digest["channel"], digest["slack_channel"]) == ("inbox", "#product")
    message = render_field("message", digest["message"], scope)
    assert "Health 71.5 (change -2.0), 40 active users" in message
    assert "- Reports: 65.0 % adoption (trend 5.0)" in message


def test_feature_launch_campaign() -> None:
    t = get_template("feature-launch")
    assert config_of(t, "launched") == {"event": "feature_launched"}
    head = ["launched", "announce_email", "wait_first_use"]
    assert walk(t, wait_first_use="received") == [*head, "tag_adopter"]
    assert walk(t, wait_first_use="timeout", wait_second_chance="received") == [
        *head,
        "reminder_email",
        "wait_second_chance",
        "tag_late_adopter",
    ]
    assert walk(t, wait_first_use="timeout", wait_second_chance="timeout") == [
        *head,
        "reminder_email",
        "wait_second_chance",
        "notify_team",
    ]
    assert config_of(t, "wait_first_use")["event"] == "feature_used"
