"""Two tabs, one draft: the draft revision (ETag / If-Match) never lets a stale save win.

Invariants: a save whose If-Match names an old revision writes nothing and
answers 412 with the stored draft; every change of the draft (a save with or
without If-Match, a restore, an admin edit) moves the revision on; of two
concurrent saves from the same revision exactly one is stored.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from builder.models import Workflow
from tests.builder.conftest import key_client
from tests.builder.factories import (
    WorkflowFactory,
    broken_graph,
    published_workflow,
    signup_graph,
)


def draft_url(workflow) -> str:
    return f"/api/v1/workflows/{workflow.pk}/draft"


def graph_with_event(event: str) -> dict:
    return signup_graph(event)


def stored(workflow) -> tuple[int, str]:
    workflow = Workflow.objects.get(pk=workflow.pk)
    return workflow.draft_revision, workflow.draft["nodes"][0]["data"]["config"]["event"]


@pytest.mark.django_db
def test_the_detail_sends_the_revision_as_etag(client_a, workflow_a):
    response = client_a.get(f"/api/v1/workflows/{workflow_a.pk}/")

    assert response["ETag"] == '"1"'
    assert response.json()["revision"] == 1


@pytest.mark.django_db
def test_a_save_with_the_current_revision_stores_and_moves_the_revision_on(client_a, workflow_a):
    response = client_a.put(
        draft_url(workflow_a), graph_with_event("order"), format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"draft", "issues", "revision"}
    assert body["revision"] == 2
    assert response["ETag"] == '"2"'
    assert stored(workflow_a) == (2, "order")
    assert client_a.get(f"/api/v1/workflows/{workflow_a.pk}/")["ETag"] == '"2"'


@pytest.mark.django_db
def test_a_stale_save_gets_412_with_the_stored_draft_and_writes_nothing(client_a, workflow_a):
    # Tab one saves from revision 1...
    client_a.put(
        draft_url(workflow_a), graph_with_event("order"), format="json", HTTP_IF_MATCH='"1"'
    )
    updated_at = Workflow.objects.get(pk=workflow_a.pk).updated_at

    # ...then tab two, still on revision 1, saves too.
    response = client_a.put(
        draft_url(workflow_a), graph_with_event("refund"), format="json", HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 412
    body = response.json()
    assert body["detail"] == (
        "the draft was changed elsewhere (revision 2); reload it or overwrite"
    )
    assert body["revision"] == 2
    assert body["draft"]["nodes"][0]["data"]["config"]["event"] == "order"
    assert response["ETag"] == '"2"'
    assert stored(workflow_a) == (2, "order")
    assert Workflow.objects.get(pk=workflow_a.pk).updated_at == updated_at


@pytest.mark.django_db
def test_overwriting_after_a_conflict_uses_the_revision_the_412_named(client_a, workflow_a):
    client_a.put(draft_url(workflow_a), graph_with_event("order"), format="json")
    conflict = client_a.put(
        draft_url(workflow_a), graph_with_event("refund"), format="json", HTTP_IF_MATCH='"1"'
    )

    overwrite = client_a.put(
        draft_url(workflow_a),
        graph_with_event("refund"),
        format="json",
        HTTP_IF_MATCH=f'"{conflict.json()["revision"]}"',
    )

    assert overwrite.status_code == 200
    assert stored(workflow_a) == (3, "refund")


@pytest.mark.django_db
def test_a_save_without_if_match_still_saves_and_moves_the_revision(client_a, workflow_a):
    first = client_a.put(draft_url(workflow_a), graph_with_event("order"), format="json")
    second = client_a.put(draft_url(workflow_a), {"draft": graph_with_event("x")}, format="json")

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["revision"] == 3
    assert stored(workflow_a) == (3, "x")


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["*", 'W/"1"', '"7", "1"', "1"])
def test_if_match_accepts_any_star_weak_tags_and_lists(client_a, workflow_a, header):
    response = client_a.put(
        draft_url(workflow_a), graph_with_event("order"), format="json", HTTP_IF_MATCH=header
    )

    assert response.status_code == 200
    assert stored(workflow_a) == (2, "order")


@pytest.mark.django_db
def test_an_if_match_that_is_no_revision_never_matches(client_a, workflow_a):
    response = client_a.put(
        draft_url(workflow_a), graph_with_event("order"), format="json", HTTP_IF_MATCH='"abc"'
    )

    assert response.status_code == 412
    assert stored(workflow_a) == (1, "signup")


@pytest.mark.django_db
def test_a_refused_document_does_not_move_the_revision(client_a, workflow_a):
    response = client_a.put(draft_url(workflow_a), broken_graph(), format="json")

    assert response.status_code == 400
    assert stored(workflow_a) == (1, "signup")


@pytest.mark.django_db
def test_renaming_does_not_change_the_draft_revision(client_a, workflow_a):
    client_a.patch(f"/api/v1/workflows/{workflow_a.pk}/", {"name": "Renamed"}, format="json")

    assert stored(workflow_a) == (1, "signup")


@pytest.mark.django_db
def test_restoring_a_version_moves_the_revision_so_open_tabs_cannot_overwrite_it(
    client_a, workspace_a
):
    workflow = published_workflow(workspace_a)  # version 1: signup
    client_a.put(draft_url(workflow), graph_with_event("order"), format="json")  # revision 2

    restored = client_a.post(f"/api/v1/workflows/{workflow.pk}/versions/1/restore")
    stale = client_a.put(
        draft_url(workflow), graph_with_event("order2"), format="json", HTTP_IF_MATCH='"2"'
    )

    assert restored.status_code == 200
    assert restored.json()["revision"] == 3
    assert restored["ETag"] == '"3"'
    assert stale.status_code == 412
    assert stored(workflow) == (3, "signup")


@pytest.mark.django_db(transaction=True)
def test_of_concurrent_saves_from_the_same_revision_exactly_one_wins(workspace_a):
    workflow = WorkflowFactory(workspace=workspace_a)
    clients = [key_client(workspace_a) for _ in range(4)]

    for round_number in range(3):
        revision = Workflow.objects.get(pk=workflow.pk).draft_revision
        start = threading.Barrier(len(clients))
        answers: dict[str, int] = {}

        def save(client, event: str, revision=revision, start=start, answers=answers):
            try:
                start.wait()
                response = client.put(
                    draft_url(workflow),
                    graph_with_event(event),
                    format="json",
                    HTTP_IF_MATCH=f'"{revision}"',
                )
                answers[event] = response.status_code
            finally:
                connection.close()

        threads = [
            threading.Thread(target=save, args=(client, f"event-{round_number}-{n}"))
            for n, client in enumerate(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

        winners = [event for event, code in answers.items() if code == 200]
        assert sorted(answers.values()) == [200, 412, 412, 412], answers
        # The stored draft is the winner's, one revision on.
        assert stored(workflow) == (revision + 1, winners[0])
