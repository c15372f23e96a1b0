"""A Celery soft time limit during a slow escalation channel is not that channel failing.

Invariant: the limit goes on up to the task (which stops as the limit
asks) instead of being logged as the channel failing while the task goes
on; the channels after it are not tried.
"""

from __future__ import annotations

import pytest
from billiard.exceptions import SoftTimeLimitExceeded

from products import channels, services
from tests.automation.test_tasks import soft_time_limit
from tests.integrations.provider_helpers import stored_connection
from tests.products.factories import ProductFactory, escalate

pytestmark = pytest.mark.django_db


def test_a_soft_time_limit_during_a_slow_channel_is_not_a_channel_failure(
    http_target, django_capture_on_commit_callbacks
):
    product = ProductFactory(name="Atlas")
    slack = stored_connection(
        product.workspace, "slack", http_target.url, secrets={"bot_token": "xoxb-1"}
    )
    services.set_configuration(
        product,
        {"escalation": {"email": False, "slack": {"connection": slack.pk, "channel": "#ops"}}},
    )
    with django_capture_on_commit_callbacks(execute=False):
        escalation = escalate(product, key="slow-slack")
    http_target.answer(body=b'{"ok": true, "channel": "C1", "ts": "1.2"}', delay=3)

    with pytest.raises(SoftTimeLimitExceeded), soft_time_limit(1):
        channels.notify(escalation, 2, "owner@example.com")
