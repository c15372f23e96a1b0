"""A workspace whose runs were slow lately waits behind everyone else's.

Invariant (DESIGN.md, "Tenancy"): once a workspace is marked slow (its
templates burn their budget), every path that queues its runs sends them to
the `low` queue, whatever its workflows' priority, for a while, in every
process (the mark is shared through Redis); other workspaces' runs keep
their priority, and previews stay first.
"""

from __future__ import annotations

import pytest

from automation import tenancy
from automation.dispatch import by_priority
from automation.models import Run
from tests.automation.workflows import chain, graph, node, published, send, workspace

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_marks_before_or_after(settings):
    settings.CAIRN_EXECUTION = "embedded"  # queued runs stay with the test
    tenancy.forget()
    yield
    tenancy.forget()


def tag_flow(ws):
    start = node("start", "trigger.event", event="signup")
    tag = node("tag", "action.tag", add=["t"])
    return published(graph([start, tag], chain(start, tag)), ws=ws)


def test_a_slow_workspace_s_runs_go_to_the_low_queue_and_others_keep_theirs():
    slow, other = workspace("slow"), workspace("other")
    tag_flow(slow)
    flow = tag_flow(other)
    flow.priority = "high"
    flow.save(update_fields=["priority"])
    send("signup", "ada@slow.test", ws=slow)
    send("signup", "bo@other.test", ws=other)
    slow_run = str(Run.objects.get(workspace=slow).pk)
    other_run = str(Run.objects.get(workspace=other).pk)
    assert by_priority([slow_run, other_run]) == {"normal": [slow_run], "high": [other_run]}

    tenancy.mark_slow(slow.pk)

    assert by_priority([slow_run, other_run]) == {"low": [slow_run], "high": [other_run]}


def test_the_mark_is_shared_with_other_processes_through_redis():
    slow = workspace("slow")
    tenancy.mark_slow(slow.pk)
    tenancy._local.clear()  # as another process sees it: only what Redis holds
    tenancy._cached_at = -tenancy.CACHE_SECONDS
    assert slow.pk in tenancy.slow_workspaces()
