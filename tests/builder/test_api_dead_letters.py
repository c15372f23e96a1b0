"""Dead letters API: failed runs listed together, retried or discarded in bulk.

Invariants: only failed, non-preview runs of the caller's workspace are
dead letters; viewers list, editors retry and discard; a bulk request that
names anything but a dead letter of this workspace is a 400 naming
`runs[i]`, and nothing is retried or discarded.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation.models import Run, RunStatus
from builder.models import Role
from tests.builder.factories import ContactFactory, RunFactory, published_workflow
from tests.builder.factories import dead_letter_run as dead_letter

pytestmark = pytest.mark.django_db

URL = "/api/v1/dead-letters"


def ids(response) -> list[str]:
    return [row["id"] for row in response.data["results"]]


def test_lists_the_failed_runs_of_the_workspace_latest_first(client_a, workspace_a, workspace_b):
    workflow = published_workflow(workspace_a, name="Onboarding")
    older = dead_letter(workflow, failed_ago=10)
    newer = dead_letter(workflow, failed_ago=1)
    RunFactory(workflow=workflow, status=RunStatus.COMPLETED)
    RunFactory(workflow=workflow, status=RunStatus.WAITING)
    dead_letter(workflow, is_preview=True)
    dead_letter(published_workflow(workspace_b))  # another workspace's

    response = client_a.get(URL)

    assert response.status_code == 200
    assert response.data["count"] == 2
    assert ids(response) == [str(newer.pk), str(older.pk)]
    row = response.data["results"][0]
    assert row["status"] == "failed"
    assert row["error"] == "HTTP 500 from the CRM"
    assert row["current_node"] == "tag"
    assert row["workflow_name"] == "Onboarding"
    assert row["failed_node_type"] == "action.tag"
    assert row["attempts"] == 3


def test_filters_and_pages(client_a, workspace_a):
    crm = published_workflow(workspace_a, name="CRM sync")
    mail = published_workflow(workspace_a, name="Mail")
    ada = ContactFactory(workspace=workspace_a, email="ada@example.com")
    timeout = dead_letter(crm, error="timed out after 10 s", node="hook", contact=ada)
    old = dead_letter(crm, failed_ago=60 * 24 * 3)
    other = dead_letter(mail)

    def listed(**params):
        response = client_a.get(URL, params)
        assert response.status_code == 200, response.data
        return set(ids(response))

    assert listed(workflow=str(crm.pk)) == {str(timeout.pk), str(old.pk)}
    assert listed(node="hook") == {str(timeout.pk)}
    assert listed(q="TIMED OUT") == {str(timeout.pk)}
    assert listed(contact="ada@") == {str(timeout.pk)}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert listed(since=since) == {str(timeout.pk), str(other.pk)}
    assert listed(until=since) == {str(old.pk)}

    first = client_a.get(URL, {"page_size": 2})
    second = client_a.get(URL, {"page_size": 2, "page": 2})
    assert first.data["count"] == 3 and first.data["next"]
    assert len(set(ids(first)) | set(ids(second))) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [({"workflow": "nope"}, "workflow"), ({"since": "yesterday"}, "since")],
)
def test_a_bad_filter_is_a_400_naming_it(client_a, params, field):
    response = client_a.get(URL, params)

    assert response.status_code == 400
    assert field in response.data["errors"]


def test_bulk_retry_resumes_each_run_at_its_failed_step(client_for, workspace_a):
    workflow = published_workflow(workspace_a)
    runs = [dead_letter(workflow) for _ in range(3)]

    response = client_for(Role.EDITOR).post(
        f"{URL}/retry", {"runs": [str(run.pk) for run in runs[:2]]}, format="json"
    )

    assert response.status_code == 200, response.data
    assert response.data["count"] == 2
    assert set(response.data["runs"]) == {str(run.pk) for run in runs[:2]}
    for run in runs[:2]:
        run.refresh_from_db()
        # The retry path of POST /runs/{id}/retry: running again at the failed
        # step, with a fresh set of attempts, the error cleared.
        assert run.status == RunStatus.RUNNING
        assert run.current_node == "tag"
        assert run.retry_floor == 3
        assert run.error == ""
    assert Run.objects.get(pk=runs[2].pk).status == RunStatus.FAILED
    listed = client_for(Role.VIEWER).get(URL)
    assert ids(listed) == [str(runs[2].pk)]


def test_bulk_discard_ends_the_runs_and_says_so_in_their_history(client_for, workspace_a):
    workflow = published_workflow(workspace_a)
    runs = [dead_letter(workflow) for _ in range(2)]

    response = client_for(Role.EDITOR).post(
        f"{URL}/discard", {"runs": [str(run.pk) for run in runs]}, format="json"
    )

    assert response.status_code == 200, response.data
    assert response.data["count"] == 2
    assert client_for(Role.VIEWER).get(URL).data["count"] == 0
    detail = client_for(Role.VIEWER).get(f"/api/v1/runs/{runs[0].pk}").data
    assert detail["status"] == "cancelled"
    assert detail["error"].startswith("discarded: ")
    assert "by API key editor key" in detail["error"]
    assert detail["error"].endswith("HTTP 500 from the CRM")  # why it had failed, kept
    assert [s["status"] for s in detail["steps"]] == ["completed", "failed"]
    # A discarded run is no longer failed: it cannot be retried any more.
    again = client_for(Role.ADMIN).post(f"/api/v1/runs/{runs[0].pk}/retry")
    assert again.status_code == 409


def test_a_session_user_discarding_is_named(session_client, member, workspace_a):
    run = dead_letter(published_workflow(workspace_a))
    client = session_client(member)
    token = "a" * 32
    client.cookies["csrftoken"] = token

    response = client.post(
        f"{URL}/discard", {"runs": [str(run.pk)]}, format="json", HTTP_X_CSRFTOKEN=token
    )

    assert response.status_code == 200, response.data
    assert f"by {member.email}" in Run.objects.get(pk=run.pk).error


@pytest.mark.parametrize("verb", ["retry", "discard"])
def test_viewers_may_list_but_not_retry_or_discard(client_for, workspace_a, verb):
    run = dead_letter(published_workflow(workspace_a))

    assert client_for(Role.VIEWER).get(URL).status_code == 200
    response = client_for(Role.VIEWER).post(f"{URL}/{verb}", {"runs": [str(run.pk)]}, format="json")

    assert response.status_code == 403
    assert Run.objects.get(pk=run.pk).status == RunStatus.FAILED


@pytest.mark.parametrize("verb", ["retry", "discard"])
def test_another_workspaces_run_is_refused_and_nothing_is_written(
    client_a, workspace_a, workspace_b, verb
):
    mine = dead_letter(published_workflow(workspace_a))
    theirs = dead_letter(published_workflow(workspace_b))

    response = client_a.post(
        f"{URL}/{verb}", {"runs": [str(mine.pk), str(theirs.pk)]}, format="json"
    )

    assert response.status_code == 409  # not one of the workspace's dead letters
    assert response.data["errors"] == {"runs[1]": [f"no run {theirs.pk} in this workspace"]}
    assert Run.objects.get(pk=mine.pk).status == RunStatus.FAILED
    assert Run.objects.get(pk=theirs.pk).status == RunStatus.FAILED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "runs"),
        ({"runs": []}, "runs"),
        ({"runs": "all"}, "runs"),
        ({"runs": ["00000000-0000-0000-0000-000000000000", "not-an-id"]}, "runs[1]"),
    ],
)
def test_bad_ids_are_a_400_naming_the_field(client_a, body, field):
    response = client_a.post(f"{URL}/retry", body, format="json")

    assert response.status_code == 400
    assert field in response.data["errors"], response.data
    assert response.data["detail"].startswith(field)


@pytest.mark.parametrize("verb", ["retry", "discard"])
def test_a_run_that_is_not_failed_refuses_the_whole_request(client_a, workspace_a, verb):
    workflow = published_workflow(workspace_a)
    failed = dead_letter(workflow)
    done = RunFactory(workflow=workflow, status=RunStatus.COMPLETED)

    response = client_a.post(
        f"{URL}/{verb}", {"runs": [str(failed.pk), str(done.pk)]}, format="json"
    )

    assert response.status_code == 409  # not one of the workspace's dead letters
    assert response.data["errors"] == {"runs[1]": [f"run {done.pk} is completed, not failed"]}
    assert Run.objects.get(pk=failed.pk).status == RunStatus.FAILED
    assert Run.objects.get(pk=done.pk).status == RunStatus.COMPLETED
