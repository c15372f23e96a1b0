"""The runtime's admin: every page renders, runs are operated only through automation.runs.

Invariants: the engine's rows (events, steps, deployments, trigger bindings)
are read-only here; a run's fields are never edited by hand, and retry /
cancel go through retry_run / cancel_run, reporting each run's outcome.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.messages import ERROR, SUCCESS, get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from automation.models import (
    Contact,
    Deployment,
    Event,
    InboxItem,
    Run,
    RunStatus,
    Step,
    StepStatus,
    TriggerBinding,
)
from builder import services
from builder.models import Workflow, Workspace
from tests.builder.graphs import tag_graph

GRAPH = tag_graph()


# ---------------------------------------------------------------- helpers


@pytest.fixture
def workflow(db) -> Workflow:
    workspace = Workspace.objects.create(name="Acme", slug="acme")
    workflow = Workflow.objects.create(workspace=workspace, name="Onboarding", draft=GRAPH)
    services.publish(workflow)
    return workflow


def make_run(workflow: Workflow, email: str, status: str, *, failed_step: bool = False) -> Run:
    contact, _ = Contact.objects.get_or_create(workspace=workflow.workspace, email=email)
    run = Run.objects.create(
        workspace=workflow.workspace,
        workflow=workflow,
        version=workflow.latest_version,
        contact=contact,
        trigger_node="start",
        status=status,
        current_node="tag",
        step_count=2,
        outputs={"start": {"event": "signup"}},
    )
    now = timezone.now()
    Step.objects.create(
        run=run,
        seq=1,
        node_id="start",
        node_type="trigger.event",
        status=StepStatus.COMPLETED,
        output={"event": "signup"},
        started_at=now,
        finished_at=now,
    )
    step = Step.objects.create(
        run=run,
        seq=2,
        node_id="tag",
        node_type="action.tag",
        status=StepStatus.FAILED if failed_step else StepStatus.WAITING,
        error="boom" if failed_step else "",
        attempt=3 if failed_step else 1,
        started_at=now,
        finished_at=now if failed_step else None,
    )
    run.current_step = step
    if status == RunStatus.FAILED:
        run.error = "boom"
        run.finished_at = now
    run.save()
    return run


def changelist(model) -> str:
    return reverse(f"admin:automation_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    return reverse(f"admin:automation_{obj._meta.model_name}_change", args=[obj.pk])


def run_action(client, model, action: str, objects) -> list:
    response = client.post(
        changelist(model),
        {"action": action, "_selected_action": [str(obj.pk) for obj in objects]},
        follow=True,
    )
    assert response.status_code == 200
    return list(get_messages(response.wsgi_request))


# ---------------------------------------------------------------- pages render


@pytest.fixture
def populated(workflow):
    """One of everything the runtime's admin shows."""
    run = make_run(workflow, "ada@example.com", RunStatus.FAILED, failed_step=True)
    event = Event.objects.create(
        workspace=workflow.workspace,
        client_id="evt-1",
        type="signup",
        contact=run.contact,
        data={"plan": "pro"},
        occurred_at=timezone.now(),
    )
    run.trigger_event = event
    run.save(update_fields=["trigger_event"])
    inbox = InboxItem.objects.create(
        workspace=workflow.workspace,
        kind=InboxItem.Kind.TASK,
        title="Call Ada",
        assignee="sales",
        run=run,
        step=run.current_step,
        contact=run.contact,
    )
    return {
        "contact": run.contact,
        "event": event,
        "deployment": Deployment.objects.get(pk=workflow.pk),
        "binding": TriggerBinding.objects.get(),
        "run": run,
        "step": run.current_step,
        "inbox": inbox,
    }


MODELS = [Contact, Event, Deployment, TriggerBinding, Run, Step, InboxItem]


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS)
def test_changelist_renders(admin_client, populated, model):
    assert admin_client.get(changelist(model)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["contact", "event", "deployment", "binding", "run", "step", "inbox"]
)
def test_change_page_renders(admin_client, populated, name):
    assert admin_client.get(change_url(populated[name])).status_code == 200


@pytest.mark.django_db
def test_contact_add_page_renders(admin_client):
    assert admin_client.get(reverse("admin:automation_contact_add")).status_code == 200


@pytest.mark.django_db
def test_run_page_lists_its_steps_in_order(admin_client, populated):
    page = admin_client.get(change_url(populated["run"])).content.decode()

    assert page.index("trigger.event") < page.index("action.tag")
    assert "boom" in page


@pytest.mark.django_db
def test_run_changelist_search_by_short_id_and_email(admin_client, workflow):
    run = make_run(workflow, "ada@example.com", RunStatus.WAITING)
    make_run(workflow, "bob@example.com", RunStatus.WAITING)

    by_id = admin_client.get(changelist(Run), {"q": str(run.pk)[:8]})
    by_email = admin_client.get(changelist(Run), {"q": "ada@"})

    assert list(by_id.context["cl"].result_list) == [run]
    assert list(by_email.context["cl"].result_list) == [run]


@pytest.mark.django_db
def test_run_changelist_queries_do_not_grow_with_rows(admin_client, workflow):
    # Workflow, version and contact come with the run (list_select_related).
    def queries_for_changelist() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(changelist(Run)).status_code == 200
        return len(captured)

    make_run(workflow, "first@example.com", RunStatus.WAITING)
    one_row = queries_for_changelist()
    for index in range(4):
        make_run(workflow, f"more{index}@example.com", RunStatus.COMPLETED)

    assert queries_for_changelist() == one_row


# ---------------------------------------------------------------- runs: retry and cancel


@pytest.mark.django_db
def test_retry_action_restarts_a_failed_run_from_the_failed_step(admin_client, workflow):
    run = make_run(workflow, "ada@example.com", RunStatus.FAILED, failed_step=True)

    messages = run_action(admin_client, Run, "retry_selected", [run])

    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert run.current_node == "tag"
    assert run.retry_floor == 3  # a fresh set of attempts from the failed step
    assert run.error == ""
    assert [m.level for m in messages] == [SUCCESS]


@pytest.mark.django_db
def test_cancel_action_cancels_a_waiting_run(admin_client, workflow):
    run = make_run(workflow, "ada@example.com", RunStatus.WAITING)

    messages = run_action(admin_client, Run, "cancel_selected", [run])

    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert run.finished_at is not None
    assert run.current_step.status == StepStatus.CANCELLED
    assert [m.level for m in messages] == [SUCCESS]


@pytest.mark.django_db
def test_run_actions_report_runs_in_the_wrong_state(admin_client, workflow):
    waiting = make_run(workflow, "ada@example.com", RunStatus.WAITING)
    completed = make_run(workflow, "bob@example.com", RunStatus.COMPLETED)

    retry_messages = run_action(admin_client, Run, "retry_selected", [waiting])
    cancel_messages = run_action(admin_client, Run, "cancel_selected", [completed])

    waiting.refresh_from_db()
    completed.refresh_from_db()
    assert (waiting.status, completed.status) == (RunStatus.WAITING, RunStatus.COMPLETED)
    assert [m.level for m in retry_messages] == [ERROR]
    assert "only a failed run can be retried" in retry_messages[0].message
    assert [m.level for m in cancel_messages] == [ERROR]


# ---------------------------------------------------------------- dead letters


@pytest.mark.django_db
def test_the_dead_letter_filter_lists_failed_runs_only(admin_client, workflow):
    failed = make_run(workflow, "ada@example.com", RunStatus.FAILED, failed_step=True)
    make_run(workflow, "bob@example.com", RunStatus.WAITING)
    preview = make_run(workflow, "eve@example.com", RunStatus.FAILED, failed_step=True)
    Run.objects.filter(pk=preview.pk).update(is_preview=True)

    response = admin_client.get(changelist(Run), {"dead_letter": "yes"})

    assert response.status_code == 200
    assert [run.pk for run in response.context["cl"].result_list] == [failed.pk]
    assert "Failed after their retries" in response.content.decode()


@pytest.mark.django_db
def test_discard_action_ends_failed_runs_and_names_the_others(admin_client, workflow, admin_user):
    failed = [
        make_run(workflow, f"p{n}@example.com", RunStatus.FAILED, failed_step=True)
        for n in range(2)
    ]
    waiting = make_run(workflow, "bob@example.com", RunStatus.WAITING)

    messages = run_action(admin_client, Run, "discard_selected", [*failed, waiting])

    for run in failed:
        run.refresh_from_db()
        assert run.status == RunStatus.CANCELLED
        assert run.error.startswith("discarded: ")
        assert f"by {admin_user.email or admin_user.username} (admin)" in run.error
        assert run.current_step.status == StepStatus.FAILED  # the failure stays in its history
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.WAITING
    assert sorted((m.level, m.message) for m in messages) == sorted(
        [
            (ERROR, f"Run {str(waiting.pk)[:8]} is waiting, not failed."),
            (SUCCESS, "Discarded 2 runs."),
        ]
    )


@pytest.mark.django_db
def test_run_fields_cannot_be_changed(admin_client, workflow, rf, admin_user):
    run = make_run(workflow, "ada@example.com", RunStatus.WAITING)
    request = rf.get("/")
    request.user = admin_user
    run_admin = admin.site._registry[Run]

    assert run_admin.has_change_permission(request, run) is False
    assert run_admin.has_add_permission(request) is False
    response = admin_client.post(change_url(run), {"status": RunStatus.COMPLETED})
    assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == RunStatus.WAITING


@pytest.mark.django_db
@pytest.mark.parametrize("model", [Event, Step, Deployment, TriggerBinding])
def test_engine_rows_are_read_only(admin_client, populated, model, rf, admin_user):
    request = rf.get("/")
    request.user = admin_user
    model_admin = admin.site._registry[model]
    obj = model.objects.first()

    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request, obj) is False
    assert model_admin.has_delete_permission(request, obj) is False


# ---------------------------------------------------------------- inbox


@pytest.mark.django_db
def test_mark_done_action(admin_client, workflow):
    items = [
        InboxItem.objects.create(
            workspace=workflow.workspace, kind=InboxItem.Kind.NOTIFICATION, title=f"Note {n}"
        )
        for n in range(2)
    ]

    messages = run_action(admin_client, InboxItem, "mark_done", items)

    assert InboxItem.objects.filter(done=True).count() == 2
    assert [m.level for m in messages] == [SUCCESS]


@pytest.mark.django_db
def test_deleting_a_contact_takes_its_history(admin_client, populated):
    # Events and runs are read-only in the admin, yet a contact with a history can be deleted.
    contact = populated["contact"]
    delete_url = reverse("admin:automation_contact_delete", args=[contact.pk])

    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert not Run.objects.exists()
