"""The products API: workspace isolation, roles, and bad input → 400 naming the
field with nothing written. Every endpoint products/ adds is here."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.models import Event, Run
from builder.models import Role, Workflow
from products import services
from products.models import BandCrossing, Escalation, Feature, Product
from tests.builder.factories import published_workflow
from tests.products.factories import ProductFactory, escalate, graph

pytestmark = pytest.mark.django_db


@pytest.fixture
def product(workspace_a):
    return ProductFactory(
        workspace=workspace_a, name="Atlas", features=[{"key": "reports", "target_size": 10}]
    )


def field_errors(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]


# ---------------------------------------------------------------- isolation


def test_another_workspace_sees_none_of_a_product(product, client_b):
    base = f"/api/v1/products/{product.pk}"
    assert client_b.get("/api/v1/products").json()["count"] == 0
    for method, path, body in [
        ("get", base, None),
        ("patch", base, {"name": "mine"}),
        ("delete", base, None),
        ("get", f"{base}/metrics", None),
        ("get", f"{base}/analytics", None),
        ("get", f"{base}/crossings", None),
        ("get", f"{base}/escalations", None),
        ("get", f"{base}/configuration", None),
        ("put", f"{base}/configuration", {"window_days": 7}),
        ("post", f"{base}/features", {"key": "x"}),
        ("patch", f"{base}/features/reports", {"target_size": 1}),
        ("post", f"{base}/events", {"type": "session", "contact": {"email": "a@b.io"}}),
    ]:
        response = getattr(client_b, method)(path, body, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
    # Firing a trigger names the product in the body: another workspace's is not found.
    response = client_b.post(
        "/api/v1/automation/triggers/product-health",
        {"product": product.pk, "band": "critical"},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["detail"].startswith("product:")
    escalation = escalate(product, key="k1", title="t", message="")
    response = client_b.post(f"/api/v1/escalations/{escalation.pk}/acknowledge", {}, format="json")
    assert response.status_code == 404
    product.refresh_from_db()
    assert product.name == "Atlas" and product.configuration == {}
    assert not Event.objects.filter(workspace_id=product.workspace_id).exists()
    assert Escalation.objects.get().status == "open"


# ---------------------------------------------------------------- roles


def test_roles(product, client_for):
    base = f"/api/v1/products/{product.pk}"
    viewer, editor, publisher = (client_for(r) for r in (Role.VIEWER, Role.EDITOR, Role.PUBLISHER))
    assert viewer.get(f"{base}/metrics").status_code == 200
    assert viewer.get(f"{base}/analytics").status_code == 200
    event = {"type": "session", "contact": {"email": "a@b.io"}}
    assert viewer.post(f"{base}/events", event, format="json").status_code == 403
    assert viewer.post("/api/v1/products", {"name": "B"}, format="json").status_code == 403
    assert viewer.put(f"{base}/configuration", {}, format="json").status_code == 403
    assert editor.post(f"{base}/events", event, format="json").status_code == 202
    assert editor.put(f"{base}/configuration", {"hysteresis": 5}, format="json").status_code == 200
    fire = {"product": product.pk, "band": "critical"}
    url = "/api/v1/automation/triggers/product-health"
    assert editor.post(url, fire, format="json").status_code == 403
    assert publisher.post(url, fire, format="json").status_code == 202
    assert viewer.patch(f"{base}/features/reports", {"name": "R"}, format="json").status_code == 403
    escalation = escalate(product, key="roles", title="t", message="")
    acknowledge = f"/api/v1/escalations/{escalation.pk}/acknowledge"
    assert viewer.post(acknowledge, {}, format="json").status_code == 403
    assert "by" in field_errors(editor.post(acknowledge, {"by": "x" * 201}, format="json"))
    assert Escalation.objects.get().status == "open"
    assert editor.post(acknowledge, {}, format="json").status_code == 200
    assert publisher.delete(base).status_code == 403
    assert client_for(Role.ADMIN).delete(base).status_code == 204
    assert not Product.objects.exists()


# ---------------------------------------------------------------- bad input


def test_create_and_update_refuse_bad_input(product, client_a):
    response = client_a.post(
        "/api/v1/products",
        {"name": "Atlas", "manager_email": "not-an-email"},
        format="json",
    )
    # A bad field is a 400 first; the taken name is a 409 once the fields are valid.
    errors = field_errors(response)
    assert set(errors) == {"manager_email"}
    response = client_a.post("/api/v1/products", {"name": "Atlas"}, format="json")
    assert response.status_code == 409
    assert "name" in response.json()["errors"]
    response = client_a.post(
        "/api/v1/products",
        {"name": "Zed", "features": [{"key": "a"}, {"key": "a"}]},
        format="json",
    )
    assert "features" in field_errors(response)
    response = client_a.post(
        f"/api/v1/products/{product.pk}/features", {"key": "reports"}, format="json"
    )
    assert response.status_code == 409  # taken: the stored features refuse it
    assert "key" in response.json()["errors"]
    response = client_a.post(
        f"/api/v1/products/{product.pk}/features", {"key": "has space"}, format="json"
    )
    assert "key" in field_errors(response)
    response = client_a.patch(
        f"/api/v1/products/{product.pk}/features/reports", {"target_size": -1}, format="json"
    )
    assert "target_size" in field_errors(response)
    response = client_a.patch(f"/api/v1/products/{product.pk}", {"name": ""}, format="json")
    assert "name" in field_errors(response)
    assert Product.objects.count() == 1 and Feature.objects.count() == 1
    assert Feature.objects.get().target_size == 10 and Product.objects.get().name == "Atlas"

    created = client_a.post(
        "/api/v1/products",
        {
            "name": "Zed",
            "manager_email": "pm@z.io",
            "features": [{"key": "export", "target_tag": "beta"}],
        },
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["features"][0]["key"] == "export"
    assert body["configuration"]["weights"]["adoption"] == 0.35


def test_usage_events_refuse_bad_input_whole(product, client_a):
    url = f"/api/v1/products/{product.pk}/events"
    good = {"id": "1", "type": "session", "contact": {"email": "a@b.io"}}
    batch = {
        "events": [
            good,
            {"id": "2", "type": "feature_used", "contact": {"email": "a@b.io"}, "data": {}},
        ]
    }
    assert "events[1].data.feature" in field_errors(client_a.post(url, batch, format="json"))
    nps = {"type": "nps", "contact": {"email": "a@b.io"}, "data": {"score": 11}}
    assert "data.score" in field_errors(client_a.post(url, nps, format="json"))
    assert "contact" in field_errors(client_a.post(url, {"type": "session"}, format="json"))
    assert not Event.objects.exists()
    # Good ones are stored once, tagged with the product, ordinary events otherwise.
    answer = client_a.post(url, {"events": [good, good]}, format="json").json()
    assert answer == {"accepted": 1, "duplicates": 1, "enrolled": 0}
    assert client_a.post(url, good, format="json").json()["duplicates"] == 1
    assert Event.objects.get().data == {"product": product.pk}


def test_an_event_sent_to_a_product_enrols_contact_workflows_too(product, client_a, workspace_a):
    workflow = published_workflow(
        workspace_a,
        graph({"id": "start", "type": "trigger.event", "config": {"event": "session"}}),
    )
    url = f"/api/v1/products/{product.pk}/events"
    answer = client_a.post(
        url, {"type": "session", "contact": {"email": "a@b.io"}}, format="json"
    ).json()
    assert answer["enrolled"] == 1
    assert Run.objects.get(workflow=workflow).contact.email == "a@b.io"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"window_days": 0}, "window_days"),
        ({"weights": {"adoption": -1}}, "weights"),
        ({"weights": {"speed": 1}}, "weights"),
        (
            {"weights": {"adoption": 0, "engagement": 0, "reliability": 0, "nps": 0}},
            "weights",
        ),
        ({"adoption_bands": [60, 20, 80]}, "adoption_bands"),
        ({"health_bands": [40, 60]}, "health_bands"),
        ({"hysteresis": 50}, "hysteresis"),
        ({"colour": "blue"}, "colour"),
        ({"escalation": {"slack": {"connection": 999, "channel": "#x"}}}, "escalation.slack"),
    ],
)
def test_configuration_refuses_bad_input(product, client_a, body, field):
    response = client_a.put(f"/api/v1/products/{product.pk}/configuration", body, format="json")
    errors = field_errors(response)
    assert any(key.startswith(field) for key in errors), errors
    product.refresh_from_db()
    assert product.configuration == {}


def test_escalation_routes_take_the_connections_defaults_and_assignees_by_level(product, client_a):
    # What tests/integrations/test_escalation_issues.py files: no project or
    # team (the connection's default) and who gets the issue at each level.
    from integrations.models import Connection

    jira = Connection(workspace=product.workspace, provider="jira", name="Jira")
    jira.settings = {"base_url": "https://acme.atlassian.net", "email": "bot@acme.example"}
    jira.set_secrets({"api_token": "t"})
    jira.save()
    url = f"/api/v1/products/{product.pk}/configuration"
    route = {"connection": jira.pk, "assignees": {"L2": "acc-pm", "L3": "acc-exec"}}

    answer = client_a.put(url, {"escalation": {"jira": route}}, format="json")

    assert answer.status_code == 200, answer.content
    product.refresh_from_db()
    stored = product.configuration["escalation"]["jira"]
    assert stored["assignees"] == {"L2": "acc-pm", "L3": "acc-exec"}
    assert not stored.get("project")
    wrong = {"escalation": {"jira": {**route, "assignees": {"L4": "nobody"}}}}
    errors = field_errors(client_a.put(url, wrong, format="json"))
    assert any(key.startswith("escalation.jira.assignees") for key in errors), errors
    product.refresh_from_db()
    assert product.configuration["escalation"]["jira"]["assignees"]["L3"] == "acc-exec"


def test_configuration_round_trip(product, client_a):
    url = f"/api/v1/products/{product.pk}/configuration"
    body = {"weights": {"nps": 0.5}, "health_bands": [30, 50, 70], "window_days": 7}
    answer = client_a.put(url, body, format="json").json()
    assert answer["weights"] == {
        "adoption": 0.35,
        "engagement": 0.25,
        "reliability": 0.25,
        "nps": 0.5,
    }
    assert answer["health_bands"] == [30, 50, 70] and answer["window_days"] == 7
    assert client_a.get(url).json() == answer


def test_analytics_answers_daily_points_and_refuses_a_bad_range(product, client_a):
    url = f"/api/v1/products/{product.pk}/analytics"
    services.refresh_product(product.pk, now=timezone.now() - timedelta(days=2))
    services.refresh_product(product.pk)
    points = client_a.get(url).json()["points"]
    assert len(points) == 2 and points[0]["day"] < points[1]["day"]
    assert "features" in points[0] and "health_score" in points[0]
    assert len(client_a.get(url, {"days": 1}).json()["points"]) == 1
    assert "days" in field_errors(client_a.get(url, {"days": "0"}))
    metrics = client_a.get(f"/api/v1/products/{product.pk}/metrics").json()
    assert metrics["features"]["reports"]["adoption"] == 0.0
    assert metrics["features"]["reports"]["band"] is None  # no usage yet: no band entered


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("product-health", {"band": "critical"}, "product"),
        ("product-health", {"product": "{p}", "band": "meh"}, "band"),
        ("feature-adoption", {"product": "{p}", "band": "high", "feature": "nope"}, "feature"),
        ("market-opportunity", {"product": "{p}", "payload": [1]}, "payload"),
    ],
)
def test_firing_triggers_refuses_bad_input(product, client_a, kind, body, field):
    body = {k: (product.pk if v == "{p}" else v) for k, v in body.items()}
    response = client_a.post(f"/api/v1/automation/triggers/{kind}", body, format="json")
    assert field in field_errors(response)
    assert not BandCrossing.objects.exists()
    assert client_a.post("/api/v1/automation/triggers/nope", {}, format="json").status_code == 404


def test_firing_a_signal_starts_the_workflows_that_listen(product, client_a, workspace_a):
    listening = published_workflow(
        workspace_a,
        graph(
            {
                "id": "signal",
                "type": "trigger.product_signal",
                "config": {"signal": "market_opportunity"},
            },
        ),
        name="Opportunities",
    )
    published_workflow(
        workspace_a,
        graph(
            {
                "id": "signal",
                "type": "trigger.product_signal",
                "config": {"signal": "performance_optimization"},
            },
        ),
    )
    response = client_a.post(
        "/api/v1/automation/triggers/market-opportunity",
        {"product": product.pk, "payload": {"segment": "EU"}},
        format="json",
    )
    assert response.status_code == 202
    started = response.json()["started"]
    assert [s["name"] for s in started] == ["Opportunities"]
    run = Run.objects.get()
    assert run.workflow_id == listening.pk and run.product == product
    assert run.trigger_event.data["payload"] == {"segment": "EU"}


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.VIEWER, 403), (Role.EDITOR, 201), (Role.PUBLISHER, 201), (Role.ADMIN, 201)],
)
def test_workflows_create_takes_the_roles_of_post_workflows(client_for, role, status):
    client = client_for(role)
    for path in ("/api/v1/workflows/", "/api/v1/workflows/create"):
        response = client.post(path, {"name": f"{role} via {path}"}, format="json")
        assert response.status_code == status, (path, response.content)
    assert Workflow.objects.count() == (2 if status == 201 else 0)


def test_a_viewer_reads_everything_of_a_product_and_changes_nothing(product, client_for):
    services.fire_from_api(
        product, "product_health", band="critical", feature_key="", value=30.0, payload={}
    )
    escalation = escalate(product, key="viewer", title="Look", message="")
    viewer = client_for(Role.VIEWER)
    base = f"/api/v1/products/{product.pk}"
    assert viewer.get("/api/v1/products").json()["count"] == 1
    assert viewer.get(base).json()["name"] == "Atlas"
    crossings = viewer.get(f"{base}/crossings")
    assert crossings.status_code == 200
    assert [c["to_band"] for c in crossings.json()["results"]] == ["critical"]
    escalations = viewer.get(f"{base}/escalations")
    assert escalations.status_code == 200
    assert [e["id"] for e in escalations.json()["results"]] == [escalation.pk]
    configuration = viewer.get(f"{base}/configuration")
    assert configuration.status_code == 200 and configuration.json()["window_days"] == 30
    # Refused: every change (the editor's, the publisher's, the admin's).
    for method, path, body in [
        ("patch", base, {"name": "Mine"}),
        ("put", f"{base}/configuration", {"window_days": 7}),
        ("post", f"{base}/features", {"key": "export"}),
        ("post", f"/api/v1/escalations/{escalation.pk}/acknowledge", {}),
        ("post", "/api/v1/automation/triggers/product-health",
         {"product": product.pk, "band": "stable"}),
        ("delete", base, None),
    ]:  # fmt: skip
        response = getattr(viewer, method)(path, body, format="json")
        assert response.status_code == 403, (method, path, response.status_code)
    product.refresh_from_db()
    assert product.name == "Atlas" and product.configuration == {}
    assert BandCrossing.objects.count() == 1 and Escalation.objects.get().status == "open"


def band_workflow(workspace, trigger: str, band: str, name: str, **config):
    return published_workflow(
        workspace,
        graph(
            {"id": "entered", "type": trigger, "config": {"band": band, **config}},
            {"id": "tell", "type": "action.notify", "config": {"message": "{{ event.data.band }}"}},
        ),
        name=name,
    )


def test_firing_band_triggers_through_the_api_starts_the_band_workflows(
    product, client_for, workspace_a
):
    adoption = "trigger.feature_adoption"
    high = band_workflow(workspace_a, adoption, "high", "Reports high", feature="reports")
    band_workflow(workspace_a, adoption, "low", "Reports low", feature="reports")
    band_workflow(workspace_a, adoption, "high", "Export high", feature="export")
    critical = band_workflow(workspace_a, "trigger.product_health", "critical", "Critical")
    band_workflow(workspace_a, "trigger.product_health", "stable", "Stable")
    publisher = client_for(Role.PUBLISHER)

    response = publisher.post(
        "/api/v1/automation/triggers/feature-adoption",
        {"product": product.pk, "band": "high", "feature": "reports", "value": 65},
        format="json",
    )
    assert response.status_code == 202, response.content
    assert [s["name"] for s in response.json()["started"]] == ["Reports high"]
    run = Run.objects.get(workflow=high)
    assert run.product == product
    data = run.trigger_event.data
    assert (data["metric"], data["band"], data["value"]) == ("feature_adoption", "high", 65.0)
    assert data["feature"] == {"key": "reports", "name": "reports"}

    response = publisher.post(
        "/api/v1/automation/triggers/product-health",
        {"product": product.pk, "band": "critical", "value": 31.5},
        format="json",
    )
    assert response.status_code == 202, response.content
    [started] = response.json()["started"]
    assert (started["name"], started["workflow"]) == ("Critical", str(critical.pk))
    assert Run.objects.get(pk=started["run"]).trigger_event.data["band"] == "critical"
    # Each fired crossing is in the band history, source "api"; bands are not moved.
    history = client_for(Role.VIEWER).get(f"/api/v1/products/{product.pk}/crossings").json()
    assert [(c["metric"], c["to_band"], c["source"]) for c in history["results"]] == [
        ("product_health", "critical", "api"),
        ("feature_adoption", "high", "api"),
    ]
    assert not product.band_states.exists()
    assert Run.objects.count() == 2


def test_workflows_create_is_an_alias(client_a):
    response = client_a.post("/api/v1/workflows/create", {"name": "Via alias"}, format="json")
    assert response.status_code == 201
    assert Workflow.objects.get().name == "Via alias"
    assert "name" in field_errors(client_a.post("/api/v1/workflows/create", {}, format="json"))


def test_acknowledging_stops_the_rise(product, client_a):
    escalation = escalate(
        product, key="k2", level=1, title="Slow", message="", guidance="Restart the cache first."
    )
    later = timezone.now() + timedelta(seconds=61)
    assert services.raise_overdue_escalations(later) == 1
    escalation.refresh_from_db()
    assert escalation.level == 2
    response = client_a.post(
        f"/api/v1/escalations/{escalation.pk}/acknowledge", {"by": "pm"}, format="json"
    )
    assert response.json()["acknowledged_by"] == "pm"
    assert services.raise_overdue_escalations(later + timedelta(hours=1)) == 0
    escalation.refresh_from_db()
    assert (escalation.level, escalation.status) == (2, "acknowledged")
    # The same visit of the node opens nothing twice (a redelivered step).
    again = escalate(product, key="k2", level=1, title="Slow", message="")
    assert again.pk == escalation.pk and Escalation.objects.count() == 1
    listed = client_a.get(f"/api/v1/products/{product.pk}/escalations").json()["results"]
    assert [e["level"] for e in listed] == [2]


def test_patch_with_features_is_refused_naming_the_field(product, client_a):
    """A feature without its key in a PATCH was a 500 (KeyError): fuzzing found it."""
    for features in ([{"name": "no key"}], [{"key": "export"}], []):
        response = client_a.patch(
            f"/api/v1/products/{product.pk}",
            {"name": "Renamed", "features": features},
            format="json",
        )
        assert response.status_code == 400, response.content
        assert "features" in field_errors(response)
    assert Product.objects.get().name == "Atlas"
    assert list(Feature.objects.values_list("key", flat=True)) == ["reports"]


def test_create_with_a_feature_lacking_its_key_is_refused_naming_the_field(client_a):
    response = client_a.post(
        "/api/v1/products", {"name": "Zed", "features": [{"name": "x"}]}, format="json"
    )
    assert response.status_code == 400
    assert "features[0].key" in field_errors(response)
    assert not Product.objects.filter(name="Zed").exists()
