"""factory_boy factories for the API tests: workspaces, people, keys, workflows, runs."""

from __future__ import annotations

import copy
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from factory.django import DjangoModelFactory

from automation.models import Contact, Run, RunStatus, Step, StepStatus
from builder import services
from builder.models import ApiKey, Membership, Role, Workflow, Workspace

# The smallest publishable workflow: a signup event tags the contact.
SIGNUP_GRAPH: dict[str, Any] = {
    "nodes": [
        {
            "id": "start",
            "type": "trigger.event",
            "position": {"x": 0, "y": 0},
            "data": {"label": "Signed up", "config": {"event": "signup"}},
        },
        {
            "id": "tag",
            "type": "action.tag",
            "position": {"x": 0, "y": 120},
            "data": {"config": {"add": ["welcomed"]}},
        },
    ],
    "edges": [{"id": "e1", "source": "start", "target": "tag"}],
    "settings": {"reenrollment": "never"},
}


def signup_graph(event: str = "signup") -> dict[str, Any]:
    graph = copy.deepcopy(SIGNUP_GRAPH)
    graph["nodes"][0]["data"]["config"]["event"] = event
    return graph


def trigger_graph(trigger_type: str, config: dict[str, Any]) -> dict[str, Any]:
    """SIGNUP_GRAPH with another trigger in front."""
    graph = copy.deepcopy(SIGNUP_GRAPH)
    graph["nodes"][0]["type"] = trigger_type
    graph["nodes"][0]["data"]["config"] = config
    return graph


def incomplete_graph() -> dict[str, Any]:
    """Saves as work in progress (the event name is missing) but cannot be published."""
    graph = signup_graph()
    graph["nodes"][0]["data"]["config"] = {}
    return graph


def broken_graph() -> dict[str, Any]:
    """A document the draft save refuses: an unknown node type."""
    graph = signup_graph()
    graph["nodes"][1]["type"] = "action.teleport"
    return graph


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")


class WorkspaceFactory(DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


class MembershipFactory(DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.EDITOR


def make_api_key(workspace: Workspace, role: str = Role.ADMIN) -> tuple[ApiKey, str]:
    """(key, raw): the raw key exists only here, as for a real client."""
    return ApiKey.objects.create_key(workspace, name=f"{role} key", role=role)


class WorkflowFactory(DjangoModelFactory):
    class Meta:
        model = Workflow

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Workflow {n}")
    draft = factory.LazyFunction(signup_graph)


def published_workflow(workspace: Workspace, graph: dict | None = None, **kwargs) -> Workflow:
    """A workflow published once (version 1, active, deployed)."""
    workflow = WorkflowFactory(workspace=workspace, draft=graph or signup_graph(), **kwargs)
    services.publish(workflow)
    workflow.refresh_from_db()
    return workflow


class ContactFactory(DjangoModelFactory):
    class Meta:
        model = Contact

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"contact{n}@example.com")


class RunFactory(DjangoModelFactory):
    """A run of a published workflow (pass `workflow`)."""

    class Meta:
        model = Run

    workflow = factory.LazyFunction(lambda: published_workflow(WorkspaceFactory()))
    workspace = factory.SelfAttribute("workflow.workspace")
    version = factory.LazyAttribute(lambda run: run.workflow.latest_version)
    contact = factory.SubFactory(ContactFactory, workspace=factory.SelfAttribute("..workspace"))
    trigger_node = "start"
    current_node = "tag"
    status = RunStatus.RUNNING


class StepFactory(DjangoModelFactory):
    class Meta:
        model = Step

    run = factory.SubFactory(RunFactory)
    seq = factory.Sequence(lambda n: n + 1)
    node_id = "start"
    node_type = "trigger.event"
    status = StepStatus.COMPLETED
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)


def dead_letter_run(
    workflow: Workflow, *, error="HTTP 500 from the CRM", node="tag", failed_ago=0, **extra
) -> Run:
    """A run that failed at `node` after 3 attempts, as the engine leaves it (a dead letter)."""
    from datetime import timedelta

    finished = timezone.now() - timedelta(minutes=failed_ago)
    run = RunFactory(
        workflow=workflow,
        status=RunStatus.FAILED,
        error=error,
        current_node=node,
        finished_at=finished,
        **extra,
    )
    StepFactory(run=run, seq=1, node_id="start", node_type="trigger.event")
    failed = StepFactory(
        run=run,
        seq=2,
        node_id=node,
        node_type="action.tag",
        status=StepStatus.FAILED,
        error=error,
        attempt=3,
    )
    Run.objects.filter(pk=run.pk).update(current_step=failed)
    return run
