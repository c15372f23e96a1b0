"""Graph validation: every DESIGN.md rule fails for its own reason, and a real graph passes.

Each failing case asserts the stable code and what the canvas highlights
(node or edge id, and field), because clients rely on those, not on wording.
"""

from __future__ import annotations

import pytest

from builder.validation import GraphIssue, structural_issues, validate_graph
from tests.builder.graphs import chain, edge, graph, node, simple_graph


def where(issue: GraphIssue) -> tuple[str, str | None, str | None, str | None]:
    return (issue.code, issue.node, issue.edge, issue.field)


def only(issues: list[GraphIssue]) -> GraphIssue:
    assert len(issues) == 1, [i.as_dict() for i in issues]
    return issues[0]


def with_code(issues: list[GraphIssue], code: str) -> list[GraphIssue]:
    return [issue for issue in issues if issue.code == code]


# ---------------------------------------------------------------- valid graphs


def test_multi_branch_graph_with_a_loop_through_a_wait_is_valid():
    # start -> used? --yes--> tips (email) -> wait1 -> back to used?
    #                 --no--> tag -> split --a--> nudge (wait.event) --received--> end
    #                                                              --timeout--> (left open)
    #                                      --b--> end
    document = graph(
        [
            node("start", "trigger.event", label="Signed up"),
            node("used", "condition.if"),
            node("tips", "action.email"),
            node("wait1", "wait.delay"),
            node("tag", "action.tag"),
            node("split", "condition.split"),
            node("nudge", "wait.event", open_handles=["timeout"]),
            node("end", "flow.end"),
        ],
        [
            edge("start", "used"),
            edge("used", "tips", "yes"),
            edge("tips", "wait1"),
            edge("wait1", "used"),
            edge("used", "tag", "no"),
            edge("tag", "split"),
            edge("split", "nudge", "a"),
            edge("split", "end", "b"),
            edge("nudge", "end", "received"),
        ],
        {"reenrollment": "after_completion", "exit_when": None, "quiet_hours": None},
    )
    assert validate_graph(document) == []


def test_design_document_example_is_valid_once_its_branches_lead_somewhere():
    document = {
        "nodes": [
            {
                "id": "start",
                "type": "trigger.event",
                "position": {"x": 0, "y": 0},
                "data": {"label": "Signed up", "config": {"event": "signup"}},
            },
            {
                "id": "welcome",
                "type": "action.email",
                "position": {"x": 0, "y": 120},
                "data": {"config": {"subject": "Welcome, {{ contact.first_name }}", "body": "…"}},
            },
            {
                "id": "wait1",
                "type": "wait.delay",
                "position": {"x": 0, "y": 240},
                "data": {"config": {"amount": 1, "unit": "days"}},
            },
            {
                "id": "used",
                "type": "condition.if",
                "position": {"x": 0, "y": 360},
                "data": {
                    "config": {
                        "match": "all",
                        "rules": [
                            {"field": "contact.properties.used_product", "op": "eq", "value": True}
                        ],
                    }
                },
            },
            node("tips", "action.email"),
            node("support", "action.tag"),
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "welcome"},
            {"id": "e2", "source": "welcome", "target": "wait1"},
            {"id": "e3", "source": "wait1", "target": "used"},
            {"id": "e4", "source": "used", "sourceHandle": "yes", "target": "tips"},
            {"id": "e5", "source": "used", "sourceHandle": "no", "target": "support"},
        ],
        "settings": {"reenrollment": "never", "exit_when": None, "quiet_hours": None},
        "viewport": {"x": 0, "y": 0, "zoom": 1},
    }
    assert validate_graph(document) == []


@pytest.mark.parametrize("handle", [None, "", "out"])
def test_a_single_output_may_be_named_out_or_left_null(handle):
    document = graph(
        [node("start", "trigger.event"), node("welcome", "action.email")],
        [{"id": "e1", "source": "start", "target": "welcome", "sourceHandle": handle}],
    )
    assert validate_graph(document) == []


def test_react_flow_extras_on_nodes_and_edges_are_accepted():
    document = simple_graph()
    document["nodes"][0].update({"width": 180, "height": 40, "selected": True, "dragging": False})
    document["edges"][0].update({"targetHandle": None, "animated": True, "type": "smoothstep"})
    assert validate_graph(document) == []


def test_a_node_without_position_or_data_is_only_missing_its_config():
    document = graph([node("start", "trigger.event"), {"id": "welcome", "type": "action.email"}])
    document["edges"] = chain("start", "welcome")
    issues = validate_graph(document)
    assert {where(i) for i in issues} == {
        ("invalid_config", "welcome", None, "config.subject"),
        ("invalid_config", "welcome", None, "config.body"),
    }
    assert structural_issues(issues) == []


# ---------------------------------------------------------------- document shape


@pytest.mark.parametrize("document", [None, [], "graph", 3])
def test_graph_must_be_an_object(document):
    issue = only(validate_graph(document))
    assert issue.code == "malformed"


@pytest.mark.parametrize("key", ["nodes", "edges"])
def test_nodes_and_edges_must_be_lists(key):
    document = simple_graph()
    document[key] = {"not": "a list"}
    assert where(only(validate_graph(document))) == ("malformed", None, None, key)
    del document[key]
    assert where(only(validate_graph(document))) == ("malformed", None, None, key)


def test_unknown_top_level_field_is_malformed():
    document = simple_graph()
    document["nodez"] = []
    assert where(only(validate_graph(document))) == ("malformed", None, None, "nodez")


def test_node_must_be_an_object():
    document = simple_graph()
    document["nodes"].append("oops")
    assert where(only(validate_graph(document))) == ("malformed", None, None, "nodes")


@pytest.mark.parametrize("node_id", [None, "", "   ", 7])
def test_node_needs_a_non_empty_string_id(node_id):
    document = simple_graph()
    document["nodes"].append({"id": node_id, "type": "action.email"})
    issue = only(validate_graph(document))
    assert where(issue) == ("malformed", None, None, "id")
    assert "Node #3" in issue.message


def test_duplicate_node_id():
    document = simple_graph()
    document["nodes"].append(node("welcome", "action.tag"))
    issue = only(validate_graph(document))
    assert where(issue) == ("duplicate_id", "welcome", None, "id")


@pytest.mark.parametrize("node_type", ["action.fax", "", None, 12])
def test_unknown_node_type_names_the_node_and_nothing_else_about_it(node_type):
    # The node is unreachable and its config nonsense: only the type is reported.
    document = simple_graph()
    document["nodes"].append(
        {"id": "fax", "type": node_type, "data": {"config": {"amount": -1}}, "position": 5}
    )
    document["edges"].append(edge("fax", "welcome", "whatever"))
    issue = only(validate_graph(document))
    assert where(issue) == ("unknown_type", "fax", None, "type")
    assert issue.message.startswith("Node 'fax':")


@pytest.mark.parametrize(
    "position", [{"x": 1}, {"x": "1", "y": 2}, {"x": True, "y": 2}, [0, 0], "top"]
)
def test_position_must_have_numeric_x_and_y(position):
    document = simple_graph()
    document["nodes"][1]["position"] = position
    assert where(only(validate_graph(document))) == ("malformed", "welcome", None, "position")


def test_data_must_be_an_object():
    document = simple_graph()
    document["nodes"][1]["data"] = ["config"]
    assert where(only(validate_graph(document))) == ("malformed", "welcome", None, "data")


def test_label_must_be_text():
    document = simple_graph()
    document["nodes"][1]["data"]["label"] = 5
    assert where(only(validate_graph(document))) == ("malformed", "welcome", None, "data.label")


@pytest.mark.parametrize("open_handles", ["no", [1], {"no": True}])
def test_open_handles_must_be_a_list_of_names(open_handles):
    document = simple_graph()
    document["nodes"][1]["data"]["open_handles"] = open_handles
    assert where(only(validate_graph(document))) == (
        "malformed",
        "welcome",
        None,
        "data.open_handles",
    )


def test_config_must_be_an_object():
    document = simple_graph()
    document["nodes"][1]["data"]["config"] = "subject: hi"
    assert where(only(validate_graph(document))) == ("malformed", "welcome", None, "config")


# ---------------------------------------------------------------- node config


def test_config_issue_names_node_and_field_in_plain_words():
    document = graph(
        [
            node("start", "trigger.event"),
            node("wait1", "wait.delay", {"amount": 0, "unit": "days"}),
        ],
        chain("start", "wait1"),
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("invalid_config", "wait1", None, "config.amount")
    assert issue.message == "Node 'wait1': config.amount must be greater than 0"
    assert structural_issues([issue]) == []


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ({"amount": 1}, "config.unit", "config.unit is required"),
        ({"amount": "two", "unit": "days"}, "config.amount", "config.amount must be a number"),
        (
            {"amount": 1, "unit": "fortnights"},
            "config.unit",
            "config.unit must be one of seconds, minutes, hours, days, weeks",
        ),
        (
            {"amount": 1, "unit": "days", "jitter": 3},
            "config",
            "config has unknown fields: 'jitter'",
        ),
    ],
)
def test_config_schema_errors_read_as_rules(config, field, message):
    document = graph(
        [node("start", "trigger.event"), node("wait1", "wait.delay", config)],
        chain("start", "wait1"),
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("invalid_config", "wait1", None, field)
    assert issue.message == f"Node 'wait1': {message}"


def test_empty_required_text_reads_as_must_not_be_empty():
    document = simple_graph()
    document["nodes"][1]["data"]["config"]["subject"] = ""
    issue = only(validate_graph(document))
    assert where(issue) == ("invalid_config", "welcome", None, "config.subject")
    assert issue.message == "Node 'welcome': config.subject must not be empty"


def test_config_semantic_check_of_the_node_type_is_reported():
    split = node(
        "split",
        "condition.split",
        {"branches": [{"handle": "a", "percent": 50}, {"handle": "b", "percent": 40}]},
    )
    document = graph(
        [node("start", "trigger.event"), split, node("x", "action.tag"), node("y", "action.tag")],
        [edge("start", "split"), edge("split", "x", "a"), edge("split", "y", "b")],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("invalid_config", "split", None, "config.branches")
    assert "100" in issue.message


def test_nested_config_path_is_dotted():
    document = graph(
        [
            node("start", "trigger.event"),
            node(
                "nudge",
                "wait.event",
                {"event": "purchase", "timeout": {"amount": 2}},
                open_handles=["received", "timeout"],
            ),
        ],
        chain("start", "nudge"),
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("invalid_config", "nudge", None, "config.timeout.unit")


def test_broken_config_does_not_cascade_into_graph_issues():
    # A split whose branches are broken has unknown outputs: its edges and
    # open branches are not judged, and what follows it is still reachable.
    document = graph(
        [
            node("start", "trigger.event"),
            node("split", "condition.split", {"branches": "half and half"}),
            node("x", "action.tag"),
        ],
        [edge("start", "split"), edge("split", "x", "a")],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("invalid_config", "split", None, "config.branches")


# ---------------------------------------------------------------- edges


def test_edge_must_be_an_object_with_an_id():
    document = simple_graph()
    document["edges"].append(["start", "welcome"])
    assert where(only(validate_graph(document))) == ("malformed", None, None, "edges")
    document = simple_graph()
    document["edges"].append({"source": "start", "target": "welcome"})
    assert where(only(validate_graph(document))) == ("malformed", None, None, "id")


def test_duplicate_edge_id():
    document = graph(
        [node("start", "trigger.event"), node("a", "action.tag"), node("b", "action.tag")],
        [edge("start", "a", edge_id="e1"), edge("a", "b", edge_id="e1")],
    )
    issues = validate_graph(document)
    assert where(issues[0]) == ("duplicate_id", None, "e1", "id")
    assert [i.code for i in structural_issues(issues)] == ["duplicate_id"]


@pytest.mark.parametrize("end", ["source", "target"])
def test_edge_to_a_missing_node_is_broken(end):
    document = simple_graph()
    document["edges"].append(edge("welcome", "ghost", edge_id="e9"))
    if end == "source":
        document["edges"][-1].update(source="ghost", target="welcome")
    issues = validate_graph(document)
    issue = only(issues)
    assert where(issue) == ("broken_edge", None, "e9", end)
    assert "'ghost'" in issue.message
    assert structural_issues(issues) == issues


@pytest.mark.parametrize("value", [None, 4, ""])
def test_edge_source_and_target_must_be_node_ids(value):
    document = simple_graph()
    document["edges"][0]["target"] = value
    issues = validate_graph(document)
    assert where(issues[0]) == ("malformed", None, "start-out-welcome", "target")


def test_source_handle_must_be_an_output_of_the_source_node():
    document = graph(
        [
            node("start", "trigger.event"),
            node("used", "condition.if", open_handles=["no"]),
            node("tips", "action.email"),
        ],
        [edge("start", "used"), edge("used", "tips", "maybe", edge_id="e4")],
    )
    issues = validate_graph(document)
    issue = with_code(issues, "invalid_handle")[0]
    assert where(issue) == ("invalid_handle", "used", "e4", "sourceHandle")
    assert "'yes' and 'no'" in issue.message


def test_an_action_has_only_the_out_handle():
    document = simple_graph()
    document["edges"][0]["sourceHandle"] = "yes"
    issues = validate_graph(document)
    assert where(issues[0]) == ("invalid_handle", "start", "start-out-welcome", "sourceHandle")


def test_source_handle_must_be_text():
    document = simple_graph()
    document["edges"][0]["sourceHandle"] = 1
    issues = validate_graph(document)
    assert where(issues[0]) == ("malformed", None, "start-out-welcome", "sourceHandle")


def test_no_edge_into_a_trigger():
    document = graph(
        [node("start", "trigger.event"), node("welcome", "action.email")],
        [edge("start", "welcome"), edge("welcome", "start", edge_id="back")],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("edge_into_trigger", "start", "back", "target")


@pytest.mark.parametrize("node_type", ["action.tag", "wait.delay"])
def test_no_self_loop_even_on_a_wait(node_type):
    document = graph(
        [node("start", "trigger.event"), node("n", node_type)],
        [edge("start", "n"), edge("n", "n", edge_id="loop")],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("self_loop", "n", "loop", "target")


def test_one_edge_per_output_parallel_branches_are_not_supported():
    document = graph(
        [node("start", "trigger.event"), node("a", "action.email"), node("b", "action.tag")],
        [edge("start", "a", edge_id="e1"), edge("start", "b", edge_id="e2")],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("duplicate_edge_handle", "start", "e2", "sourceHandle")
    assert "Parallel branches are not supported" in issue.message
    assert "'e1'" in issue.message


def test_one_edge_per_named_output():
    document = graph(
        [
            node("start", "trigger.event"),
            node("used", "condition.if"),
            node("a", "action.email"),
            node("b", "action.tag"),
            node("c", "action.tag"),
        ],
        [
            edge("start", "used"),
            edge("used", "a", "yes"),
            edge("used", "b", "yes", edge_id="second-yes"),
            edge("used", "c", "no"),
        ],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("duplicate_edge_handle", "used", "second-yes", "sourceHandle")


def test_end_node_has_no_outgoing_edges():
    document = graph(
        [node("start", "trigger.event"), node("end", "flow.end"), node("after", "action.tag")],
        [edge("start", "end"), edge("end", "after", edge_id="e2")],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("edge_from_end", "end", "e2", "source")


# ---------------------------------------------------------------- graph rules


def test_at_least_one_trigger():
    document = graph([node("welcome", "action.email")])
    issue = only(validate_graph(document))
    assert where(issue) == ("no_trigger", None, None, "nodes")


def test_empty_graph_only_lacks_a_trigger():
    issues = validate_graph({"nodes": [], "edges": []})
    assert [i.code for i in issues] == ["no_trigger"]
    assert structural_issues(issues) == []


def test_every_node_reachable_from_a_trigger():
    document = graph(
        [
            node("start", "trigger.event"),
            node("welcome", "action.email"),
            node("orphan", "action.tag"),
            node("orphan_child", "action.email"),
        ],
        chain("start", "welcome") + chain("orphan", "orphan_child"),
    )
    issues = validate_graph(document)
    assert [where(i) for i in issues] == [
        ("unreachable", "orphan", None, None),
        ("unreachable", "orphan_child", None, None),
    ]
    assert structural_issues(issues) == []


def test_any_trigger_can_reach_a_node():
    document = graph(
        [
            node("signup", "trigger.event"),
            node("invited", "trigger.event", {"event": "invited"}),
            node("welcome", "action.email"),
            node("tag", "action.tag"),
        ],
        [edge("signup", "welcome"), edge("invited", "tag")],
    )
    assert validate_graph(document) == []


@pytest.mark.parametrize(
    ("node_type", "connected", "missing"),
    [
        ("condition.if", "yes", "no"),
        ("wait.event", "received", "timeout"),
        ("condition.split", "a", "b"),
    ],
)
def test_every_branch_is_connected_or_left_open(node_type, connected, missing):
    document = graph(
        [node("start", "trigger.event"), node("branch", node_type), node("next", "action.tag")],
        [edge("start", "branch"), edge("branch", "next", connected)],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("unconnected_handle", "branch", None, f"handles.{missing}")
    assert f"'{missing}'" in issue.message

    document["nodes"][1]["data"]["open_handles"] = [missing]
    assert validate_graph(document) == []


def test_switch_cases_are_branches_from_config():
    switch = node(
        "plan",
        "condition.switch",
        {
            "cases": [
                {"handle": "pro", "rules": [{"field": "contact.plan", "op": "eq", "value": "pro"}]}
            ]
        },
        open_handles=["default"],
    )
    document = graph(
        [node("start", "trigger.event"), switch, node("pro_mail", "action.email")],
        [edge("start", "plan"), edge("plan", "pro_mail", "pro")],
    )
    assert validate_graph(document) == []
    document["edges"][1]["sourceHandle"] = "enterprise"
    issues = validate_graph(document)
    assert [where(i) for i in issues] == [
        ("invalid_handle", "plan", "plan-pro-pro_mail", "sourceHandle"),
        ("unconnected_handle", "plan", None, "handles.pro"),
    ]


def test_a_single_out_may_end_the_run_unconnected():
    document = graph([node("start", "trigger.event"), node("wait1", "wait.delay")])
    document["edges"] = chain("start", "wait1")
    assert validate_graph(document) == []


def test_cycle_without_a_wait_names_its_nodes():
    document = graph(
        [
            node("start", "trigger.event"),
            node("a", "action.email"),
            node("b", "action.tag"),
            node("c", "action.tag"),
        ],
        [*chain("start", "a", "b", "c"), edge("c", "a", edge_id="back")],
    )
    issue = only(validate_graph(document))
    assert where(issue) == ("cycle_without_wait", "a", None, None)
    assert "'a', 'b' and 'c'" in issue.message


def test_cycle_through_a_condition_without_a_wait_is_an_error():
    document = graph(
        [
            node("start", "trigger.event"),
            node("check", "condition.if", open_handles=["no"]),
            node("tag", "action.tag"),
        ],
        [edge("start", "check"), edge("check", "tag", "yes"), edge("tag", "check")],
    )
    issue = only(validate_graph(document))
    assert issue.code == "cycle_without_wait"
    assert "'check' and 'tag'" in issue.message


def test_cycle_through_a_wait_event_is_allowed():
    document = graph(
        [
            node("start", "trigger.event"),
            node("mail", "action.email"),
            node("nudge", "wait.event", open_handles=["received"]),
        ],
        [edge("start", "mail"), edge("mail", "nudge"), edge("nudge", "mail", "timeout")],
    )
    assert validate_graph(document) == []


def test_a_wait_on_one_loop_does_not_excuse_another_loop_through_the_same_nodes():
    # a -> b -> a has no wait, even though a -> b -> wait1 -> a does.
    document = graph(
        [
            node("start", "trigger.event"),
            node("a", "action.email"),
            node("b", "condition.if"),
            node("wait1", "wait.delay"),
        ],
        [
            edge("start", "a"),
            edge("a", "b"),
            edge("b", "a", "yes"),
            edge("b", "wait1", "no"),
            edge("wait1", "a"),
        ],
    )
    issue = only(validate_graph(document))
    assert issue.code == "cycle_without_wait"
    assert "'a' and 'b'" in issue.message


def test_two_separate_cycles_are_two_issues():
    document = graph(
        [
            node("start", "trigger.event"),
            node("split", "condition.split"),
            node("a1", "action.tag"),
            node("a2", "action.tag"),
            node("b1", "action.tag"),
            node("b2", "action.tag"),
        ],
        [
            edge("start", "split"),
            edge("split", "a1", "a"),
            edge("split", "b1", "b"),
            *chain("a1", "a2", "a1"),
            *chain("b1", "b2", "b1"),
        ],
    )
    issues = validate_graph(document)
    assert [(i.code, i.node) for i in issues] == [
        ("cycle_without_wait", "a1"),
        ("cycle_without_wait", "b1"),
    ]


def test_long_chain_is_checked_without_recursion_limits():
    ids = [f"n{i}" for i in range(3000)]
    document = graph(
        [node("start", "trigger.event"), *(node(i, "action.tag") for i in ids)],
        [*chain("start", *ids), edge(ids[-1], ids[0], edge_id="back")],
    )
    issue = only(validate_graph(document, max_nodes=5000))
    assert issue.code == "cycle_without_wait"


def test_too_many_nodes_is_one_issue_and_stops():
    document = graph(
        [node(f"n{i}", "action.fax") for i in range(4)] + [node("n0", "action.tag")],
        [edge("n0", "ghost")],
    )
    issues = validate_graph(document, max_nodes=4)
    issue = only(issues)
    assert where(issue) == ("too_many_nodes", None, None, "nodes")
    assert "at most 4" in issue.message
    assert structural_issues(issues) == issues


def test_node_limit_defaults_to_the_setting(settings):
    settings.WORKFLOW_MAX_NODES = 2
    document = simple_graph()
    assert validate_graph(document) == []
    document["nodes"].append(node("extra", "action.tag"))
    document["edges"].append(edge("welcome", "extra"))
    assert only(validate_graph(document)).code == "too_many_nodes"
    assert validate_graph(document, max_nodes=3) == []


# ---------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "settings_value",
    [
        {},
        {"reenrollment": "never"},
        {"reenrollment": "after_completion"},
        {"reenrollment": "always"},
        {"exit_when": {"event": "unsubscribed"}},
        {
            "exit_when": {
                "match": "any",
                "rules": [{"field": "contact.tags", "op": "contains", "value": "customer"}],
            }
        },
        {
            "exit_when": {
                "event": "purchase",
                "rules": [{"field": "contact.properties.churned", "op": "is_true"}],
            }
        },
        {"quiet_hours": {"start": "21:00", "end": "08:00"}},
    ],
)
def test_valid_settings(settings_value):
    assert validate_graph(simple_graph(**settings_value)) == []


def test_settings_are_optional_and_may_be_null():
    document = simple_graph()
    assert "settings" not in document
    assert validate_graph(document) == []
    document["settings"] = None
    assert validate_graph(document) == []


@pytest.mark.parametrize(
    ("settings_value", "field"),
    [
        ({"reenrollment": "sometimes"}, "settings.reenrollment"),
        ({"reenrolment": "never"}, "settings.reenrolment"),
        ({"exit_when": "unsubscribed"}, "settings.exit_when"),
        ({"exit_when": {}}, "settings.exit_when"),
        ({"exit_when": {"event": ""}}, "settings.exit_when.event"),
        ({"exit_when": {"event": "x", "when": 1}}, "settings.exit_when.when"),
        ({"exit_when": {"event": "x", "match": "most"}}, "settings.exit_when.match"),
        ({"exit_when": {"rules": "plan is pro"}}, "settings.exit_when.rules"),
        (
            {"exit_when": {"rules": [{"field": "contact.plan", "op": "like", "value": 1}]}},
            "settings.exit_when.rules.0.op",
        ),
        (
            {"exit_when": {"rules": [{"op": "eq", "value": 1}]}},
            "settings.exit_when.rules.0.field",
        ),
        ({"quiet_hours": "21-08"}, "settings.quiet_hours"),
        ({"quiet_hours": {"start": "9pm", "end": "08:00"}}, "settings.quiet_hours.start"),
        ({"quiet_hours": {"start": "21:00", "end": "24:00"}}, "settings.quiet_hours.end"),
        ({"quiet_hours": {"start": "21:00"}}, "settings.quiet_hours.end"),
        ({"quiet_hours": {"start": "21:00", "end": "21:00"}}, "settings.quiet_hours.end"),
        (
            {"quiet_hours": {"start": "21:00", "end": "08:00", "tz": "UTC"}},
            "settings.quiet_hours.tz",
        ),
    ],
)
def test_invalid_settings_name_the_setting(settings_value, field):
    issues = validate_graph(simple_graph(**settings_value))
    issue = only(issues)
    assert where(issue) == ("invalid_settings", None, None, field)
    assert issue.message.startswith("Settings: ")
    assert structural_issues(issues) == []


def test_settings_must_be_an_object():
    document = simple_graph()
    document["settings"] = ["never"]
    assert where(only(validate_graph(document))) == ("malformed", None, None, "settings")


# ---------------------------------------------------------------- issue helpers


def test_structural_issues_separates_broken_documents_from_work_in_progress():
    document = graph(
        [
            node("start", "trigger.event"),
            node("start", "action.tag"),  # duplicate id
            node("fax", "action.fax"),  # unknown type
            node("wait1", "wait.delay", {"amount": 0, "unit": "days"}),  # bad config
            node("used", "condition.if"),  # unconnected branches, unreachable
        ],
        [edge("start", "wait1"), edge("wait1", "nowhere")],  # broken edge
    )
    issues = validate_graph(document)
    assert sorted(i.code for i in structural_issues(issues)) == [
        "broken_edge",
        "duplicate_id",
        "unknown_type",
    ]
    assert {i.code for i in issues} - {i.code for i in structural_issues(issues)} == {
        "invalid_config",
        "unreachable",
        "unconnected_handle",
    }


def test_issue_as_dict():
    issue = GraphIssue("Node 'x': config.a is required", "invalid_config", node="x", field="a")
    assert issue.as_dict() == {
        "message": "Node 'x': config.a is required",
        "code": "invalid_config",
        "node": "x",
        "edge": None,
        "field": "a",
        "severity": "error",
    }
