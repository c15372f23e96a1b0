"""Products on the embedded default's SQLite database (`make run` with nothing
configured): a feature whose target is a tag computes its adoption, and its
audiences resolve, as on PostgreSQL (where `tags @> [...]` does it; SQLite
has no such operator, and Django refuses `tags__contains` there)."""

from __future__ import annotations

import json

from tests.products.embedded import shell, sqlite_env

SCRIPT = """
import json
from django.utils import timezone
from automation.ingest import ContactRef, IncomingEvent
from automation.models import Contact
from builder.models import Workspace
from products import services

ws = Workspace.objects.create(name="Embedded", slug="embedded")
product = services.create_product(
    ws, name="Atlas", features=[{"key": "export", "target_tag": "beta"}]
)
now = timezone.now()
def used(email, kind="feature_used", **data):
    return IncomingEvent(type=kind, contact=ContactRef(email=email), data=data, occurred_at=now)
services.record_usage(product, [
    used("a@x.io", feature="export"),
    used("b@x.io", kind="session"),
    used("c@x.io", feature="export"),  # used it, but is not in the target
])
Contact.objects.filter(email="a@x.io").update(tags=["beta", "vip"])
Contact.objects.filter(email="b@x.io").update(tags=["beta-old", "beta"])
Contact.objects.filter(email="c@x.io").update(tags=["betas", "x-beta"])  # no 'beta' tag
services.refresh_product(product.pk)
product.refresh_from_db()
audience = lambda name: sorted(
    services.audience_contacts(product, "export", name, timezone.now()).values_list(
        "email", flat=True
    )
)
print("RESULT=" + json.dumps({
    "export": product.metrics["features"]["export"],
    "target": audience("target"),
    "users": audience("users"),
    "non_users": audience("non_users"),
}))
"""


def test_a_tagged_feature_computes_on_sqlite(tmp_path):
    env = sqlite_env(tmp_path)
    printed = shell(env, SCRIPT)
    result = json.loads(next(line[7:] for line in printed.splitlines() if line[:7] == "RESULT="))
    # a and b carry the tag (c's tags only look like it); a of them used export.
    export = result["export"]
    assert (export["users"], export["target"], export["adoption"]) == (1, 2, 50.0)
    assert result["target"] == ["a@x.io", "b@x.io"]
    assert result["users"] == ["a@x.io"]
    assert result["non_users"] == ["b@x.io"]
