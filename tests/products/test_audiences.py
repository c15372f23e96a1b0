"""action.enroll_product_contacts' audiences: who counts as a feature's (non-)user."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from automation.ingest import ContactRef, IncomingEvent
from automation.models import Contact, Run
from products import services
from tests.builder.factories import WorkspaceFactory, published_workflow
from tests.products.factories import ProductFactory, graph

pytestmark = pytest.mark.django_db


def used(email: str, kind: str = "feature_used", **data) -> IncomingEvent:
    return IncomingEvent(
        type=kind,
        contact=ContactRef(email=email),
        data=data,
        occurred_at=timezone.now() - timedelta(hours=1),
    )


@pytest.fixture
def product():
    workspace = WorkspaceFactory()
    product = ProductFactory(
        workspace=workspace,
        features=[
            {"key": "reports", "target_tag": "beta"},
            {"key": "export", "target_size": 5},
        ],
    )
    services.record_usage(
        product,
        [
            used("a@x.io", feature="reports"),
            used("b@x.io", kind="session"),
            used("c@x.io", feature="reports"),  # used it, but not in the target
            used("d@x.io", kind="session"),
            used("a@x.io", feature="export"),
        ],
    )
    Contact.objects.filter(email__in=["a@x.io", "b@x.io"]).update(tags=["beta"])
    # e@x.io is in the target but never used the product at all.
    Contact.objects.create(workspace=workspace, email="e@x.io", tags=["beta"])
    return product


def emails(product, feature: str, audience: str) -> set[str]:
    found = services.audience_contacts(product, feature, audience, timezone.now())
    return set(found.values_list("email", flat=True))


def test_audiences_of_a_tagged_target(product):
    assert emails(product, "reports", "target") == {"a@x.io", "b@x.io", "e@x.io"}
    assert emails(product, "reports", "users") == {"a@x.io"}
    assert emails(product, "reports", "non_users") == {"b@x.io", "e@x.io"}
    assert emails(product, "reports", "active") == {"a@x.io", "b@x.io", "c@x.io", "d@x.io"}


def test_audiences_of_a_numeric_target_are_the_active_users(product):
    assert emails(product, "export", "users") == {"a@x.io"}
    assert emails(product, "export", "non_users") == {"b@x.io", "c@x.io", "d@x.io"}
    assert emails(product, "nope", "users") == set()


def test_enrolment_follows_the_workflows_reenrolment_rule(product):
    workflow = published_workflow(
        product.workspace,
        graph({"id": "start", "type": "trigger.event", "config": {"event": "learn"}}),
    )
    enrol = dict(
        product_id=product.pk,
        workspace_id=product.workspace_id,
        workflow_id=str(workflow.pk),
        feature_key="reports",
        audience="non_users",
    )
    assert services.enrol_product_contacts(**enrol) == {
        "audience": "non_users",
        "matched": 2,
        "enrolled": 2,
    }
    # "never" re-enrol: a second crossing enrols nobody again.
    assert services.enrol_product_contacts(**enrol)["enrolled"] == 0
    assert Run.objects.filter(workflow=workflow).count() == 2
    for wrong in ("3", str(uuid.uuid4())):
        with pytest.raises(LookupError):
            services.enrol_product_contacts(**{**enrol, "workflow_id": wrong})
