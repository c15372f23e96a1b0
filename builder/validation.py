"""Graph validation: is a workflow document well formed, and can it run?

`validate_graph()` runs on every draft save (the canvas shows the issues on
the nodes and edges they name) and is enforced on publish. It never raises on
bad input: whatever JSON a client sends comes back as a list of `GraphIssue`.

Two kinds of issue matter to the API:

* structural (`structural_issues()`): the document itself is broken (wrong
  shape, duplicate ids, unknown node types, edges to nowhere, too many nodes).
  A draft save with one of these is refused with a 400.
* work in progress (incomplete config, unconnected branch, unreachable node,
  a loop without a wait, ...): the draft saves, the canvas shows the issue,
  and publish is refused until none are left.

The checks follow DESIGN.md, "The workflow graph" and "Validation". Pure
Python over the JSON: no ORM, no engine (except the connection hosts check,
which reads the workspace's connections: integrations.destinations).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings as django_settings
from jsonschema import Draft202012Validator

from automation.enrolment import REENROLLMENT_CHOICES
from automation.models import NODE_ID_MAX_LENGTH
from automation.nodes.base import EVENT_TYPE_MAX_LENGTH, ConfigIssue, NodeType
from automation.nodes.registry import get_node_type
from automation.rules import RULES_SCHEMA
from integrations.connection_sites import graph_issues as connection_host_issues

# Codes that mean "the document is broken" rather than "the workflow is unfinished".
STRUCTURAL_CODES = frozenset(
    {"malformed", "duplicate_id", "unknown_type", "broken_edge", "too_many_nodes"}
)

DEFAULT_HANDLE = "out"
SETTINGS_KEYS = ("reenrollment", "exit_when", "quiet_hours")
# Top-level keys besides nodes/edges/settings: React Flow saves its viewport.
EXTRA_GRAPH_KEYS = ("viewport",)
WAIT_CATEGORY = "wait"

_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass(frozen=True)
class GraphIssue:
    """One problem with a workflow graph, pinned to what the canvas should highlight.

    `node` / `edge` name the element by id; `field` is a path inside it
    ("type", "config.amount", "sourceHandle", "handles.no") or, for workflow
    settings, "settings.<key>". `code` is a stable identifier for clients;
    `message` is for the person editing the workflow.
    """

    message: str
    code: str
    node: str | None = None
    edge: str | None = None
    field: str | None = None
    severity: str = "error"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def structural_issues(issues: Iterable[GraphIssue]) -> list[GraphIssue]:
    """The issues that mean the document itself is broken (a draft save must refuse it)."""
    return [issue for issue in issues if issue.code in STRUCTURAL_CODES]


def validate_graph(
    graph: Any, *, max_nodes: int | None = None, workspace_id: Any = None
) -> list[GraphIssue]:
    """Every problem with `graph`, in document order; an empty list means it can be published.

    With `workspace_id`, a workflow or connection the graph names must be one of
    that workspace's (builder/references.py), and a step may send a connection's
    credentials only to the sites it is for (integrations.connection_sites).
    """
    if max_nodes is None:
        max_nodes = django_settings.WORKFLOW_MAX_NODES
    issues = _Validator(graph, max_nodes).run()
    # A connection's credentials go only to the sites it is for (integrations.destinations).
    issues += [
        GraphIssue(message=message, code="connection_host", node=node_id, field=f"config.{field}")
        for node_id, field, message in connection_host_issues(graph, workspace_id)
    ]
    if workspace_id is not None and not structural_issues(issues):
        from .references import CODE, reference_issues

        issues += [
            GraphIssue(
                message=f"Node {_quote(node)}: {message}.",
                code=CODE,
                node=node,
                field=field,
            )
            for node, field, message in reference_issues(graph, workspace_id)
        ]
    return issues


# ---------------------------------------------------------------- internals


@dataclass
class _Node:
    id: str
    node_type: type[NodeType]
    open_handles: frozenset[str]
    # None when the handles cannot be known (dynamic handles, invalid config).
    handles: list[str] | None


@dataclass
class _Edge:
    id: str
    source: str
    target: str
    handle: str
    # False when the edge itself is at fault (into a trigger, no such output, ...).
    ok: bool = True


def _quote(value: Any) -> str:
    return f"'{value}'"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _names(values: Iterable[str], last: str = "and") -> str:
    """'a' / 'a' and 'b' / 'a', 'b' and 'c' (or `last` instead of "and")."""
    quoted = [_quote(value) for value in values]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + f" {last} " + quoted[-1]


class _Validator:
    def __init__(self, graph: Any, max_nodes: int) -> None:
        self.graph = graph
        self.max_nodes = max_nodes
        self.issues: list[GraphIssue] = []
        # Every node with a usable id (known type or not) -> its place in the
        # document; the first node with an id wins.
        self.node_order: dict[str, int] = {}
        # Nodes with a known type, by id.
        self.nodes: dict[str, _Node] = {}
        # Edges whose source and target both exist.
        self.edges: list[_Edge] = []
        # The one edge that each (source, output) leads along.
        self.edge_by_output: dict[tuple[str, str], _Edge] = {}

    # ------------------------------------------------------------ helpers
    def add(self, message: str, code: str, **where: str | None) -> None:
        self.issues.append(GraphIssue(message=message, code=code, **where))

    # ------------------------------------------------------------ entry
    def run(self) -> list[GraphIssue]:
        graph = self.graph
        if not isinstance(graph, Mapping):
            self.add(
                "The workflow must be a JSON object with 'nodes' and 'edges'.",
                "malformed",
            )
            return self.issues
        nodes, edges = graph.get("nodes"), graph.get("edges")
        for key, value in (("nodes", nodes), ("edges", edges)):
            if not isinstance(value, list):
                self.add(f"The workflow's '{key}' must be a list.", "malformed", field=key)
        for key in graph:
            if key not in ("nodes", "edges", "settings", *EXTRA_GRAPH_KEYS):
                self.add(
                    f"The workflow has an unknown top-level field {_quote(key)}.",
                    "malformed",
                    field=str(key),
                )
        if self.issues:
            return self.issues

        if len(nodes) > self.max_nodes:
            self.add(
                f"The workflow has {len(nodes)} nodes; a workflow can have at most "
                f"{self.max_nodes}. Split it into smaller workflows "
                "(an 'Enroll in workflow' action can chain them).",
                "too_many_nodes",
                field="nodes",
            )
            return self.issues

        for index, node in enumerate(nodes):
            self.check_node(index, node)
        seen_edge_ids: set[str] = set()
        for index, edge in enumerate(edges):
            self.check_edge(index, edge, seen_edge_ids)
        self.check_settings(graph.get("settings"))

        self.check_triggers_and_reachability()
        self.check_branch_handles()
        self.check_cycles()
        return self.issues

    # ------------------------------------------------------------ nodes
    def check_node(self, index: int, node: Any) -> None:
        if not isinstance(node, Mapping):
            self.add(f"Node #{index + 1} must be a JSON object.", "malformed", field="nodes")
            return
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id.strip():
            self.add(f"Node #{index + 1} needs an id (a non-empty text).", "malformed", field="id")
            return
        if len(node_id) > NODE_ID_MAX_LENGTH:
            self.add(
                f"Node #{index + 1}: its id is {len(node_id)} characters; "
                f"ids are at most {NODE_ID_MAX_LENGTH}.",
                "malformed",
                node=node_id,
                field="id",
            )
            return
        if node_id in self.node_order:
            self.add(
                f"Node {_quote(node_id)}: another node already uses this id; "
                "every node needs its own id.",
                "duplicate_id",
                node=node_id,
                field="id",
            )
            return
        self.node_order[node_id] = index
        where = {"node": node_id}
        prefix = f"Node {_quote(node_id)}"

        type_key = node.get("type")
        node_type = get_node_type(type_key) if isinstance(type_key, str) else None
        if node_type is None:
            problem = (
                f"its type {_quote(type_key)} is not a known node type."
                if isinstance(type_key, str) and type_key
                else "it needs a node type."
            )
            self.add(
                f"{prefix}: {problem}",
                "unknown_type",
                field="type",
                **where,
            )
            # Nothing else is listed for a node whose type is unknown.
            return

        position = node.get("position")
        if position is not None and not (
            isinstance(position, Mapping)
            and _is_number(position.get("x"))
            and _is_number(position.get("y"))
        ):
            self.add(
                f"{prefix}: position must be an object with numbers x and y.",
                "malformed",
                field="position",
                **where,
            )

        raw_data = node.get("data")
        data_ok = raw_data is None or isinstance(raw_data, Mapping)
        if not data_ok:
            self.add(f"{prefix}: data must be a JSON object.", "malformed", field="data", **where)
        data: Mapping[str, Any] = raw_data if isinstance(raw_data, Mapping) else {}
        label = data.get("label")
        if label is not None and not isinstance(label, str):
            self.add(f"{prefix}: the label must be text.", "malformed", field="data.label", **where)

        raw_open = data.get("open_handles")
        open_handles: frozenset[str] = frozenset()
        if isinstance(raw_open, list) and all(isinstance(h, str) for h in raw_open):
            open_handles = frozenset(raw_open)
        elif raw_open is not None:
            self.add(
                f"{prefix}: open_handles must be a list of output names.",
                "malformed",
                field="data.open_handles",
                **where,
            )

        # A node just dropped on the canvas has no config yet: that is an
        # incomplete config (its required fields are listed), not a broken document.
        config = data.get("config")
        if config is None:
            config = {}
        config_ok = data_ok
        if not isinstance(config, Mapping):
            self.add(
                f"{prefix}: config must be a JSON object.", "malformed", field="config", **where
            )
            config, config_ok = {}, False
        elif data_ok:
            for config_issue in node_type.validate_config(config):
                config_ok = False
                field, text = _describe_config_issue(config_issue)
                self.add(f"{prefix}: {text}", "invalid_config", field=field, **where)

        # The node takes part in the graph checks even with a broken config,
        # so one bad field does not also make everything after it unreachable.
        self.nodes[node_id] = _Node(
            id=node_id,
            node_type=node_type,
            open_handles=open_handles,
            handles=_output_handles(node_type, config, config_ok=config_ok),
        )

    # ------------------------------------------------------------ edges
    def check_edge(self, index: int, edge: Any, seen_ids: set[str]) -> None:
        if not isinstance(edge, Mapping):
            self.add(f"Connection #{index + 1} must be a JSON object.", "malformed", field="edges")
            return
        edge_id = edge.get("id")
        if not isinstance(edge_id, str) or not edge_id.strip():
            self.add(
                f"Connection #{index + 1} needs an id (a non-empty text).",
                "malformed",
                field="id",
            )
            return
        if edge_id in seen_ids:
            self.add(
                f"Connection {_quote(edge_id)}: another connection already uses this id; "
                "every connection needs its own id.",
                "duplicate_id",
                edge=edge_id,
                field="id",
            )
            return
        seen_ids.add(edge_id)
        prefix = f"Connection {_quote(edge_id)}"

        ends: dict[str, str] = {}
        for end in ("source", "target"):
            value = edge.get(end)
            if not isinstance(value, str) or not value:
                self.add(
                    f"{prefix}: {end} must be the id of a node.",
                    "malformed",
                    edge=edge_id,
                    field=end,
                )
            elif value not in self.node_order:
                self.add(
                    f"{prefix}: its {end} node {_quote(value)} does not exist.",
                    "broken_edge",
                    edge=edge_id,
                    field=end,
                )
            else:
                ends[end] = value

        handle = edge.get("sourceHandle")
        if handle is None or handle == "":
            # React Flow leaves it null on a node with one output (the engine reads "out").
            handle = DEFAULT_HANDLE
        elif not isinstance(handle, str):
            self.add(
                f"{prefix}: sourceHandle must be the name of an output, or null.",
                "malformed",
                edge=edge_id,
                field="sourceHandle",
            )
            return
        target_handle = edge.get("targetHandle")
        if target_handle is not None and not isinstance(target_handle, str):
            self.add(
                f"{prefix}: targetHandle must be text or null.",
                "malformed",
                edge=edge_id,
                field="targetHandle",
            )
        if len(ends) < 2:
            return
        source, target = ends["source"], ends["target"]
        self.check_edge_semantics(edge_id, source, target, handle)

    def check_edge_semantics(self, edge_id: str, source: str, target: str, handle: str) -> None:
        prefix = f"Connection {_quote(edge_id)}"
        source_node, target_node = self.nodes.get(source), self.nodes.get(target)
        ok = True  # False once the edge itself is at fault

        if source == target:
            self.add(
                f"{prefix}: node {_quote(source)} cannot connect to itself.",
                "self_loop",
                edge=edge_id,
                node=source,
                field="target",
            )
            ok = False
        if target_node is not None and target_node.node_type.category == "trigger":
            self.add(
                f"{prefix}: nothing can connect into trigger {_quote(target)}; "
                "a trigger is where a workflow starts.",
                "edge_into_trigger",
                edge=edge_id,
                node=target,
                field="target",
            )
            ok = False
        if source_node is not None and source_node.handles is not None:
            if not source_node.handles:
                self.add(
                    f"{prefix}: node {_quote(source)} ends the run, so nothing can follow it.",
                    "edge_from_end",
                    edge=edge_id,
                    node=source,
                    field="source",
                )
                ok = False
            elif handle not in source_node.handles:
                self.add(
                    f"{prefix}: node {_quote(source)} has no output {_quote(handle)} "
                    f"(its outputs are {_names(source_node.handles)}).",
                    "invalid_handle",
                    edge=edge_id,
                    node=source,
                    field="sourceHandle",
                )
                ok = False
        first = self.edge_by_output.get((source, handle))
        if ok and first is not None and source_node is not None:
            output = f"its {_quote(handle)} output" if handle != DEFAULT_HANDLE else "it"
            self.add(
                f"{prefix}: node {_quote(source)} already connects {output} to "
                f"{_quote(first.target)} (connection {_quote(first.id)}). "
                "Parallel branches are not supported: an output leads to one "
                "next step, so chain the steps one after another instead.",
                "duplicate_edge_handle",
                edge=edge_id,
                node=source,
                field="sourceHandle",
            )
        # Every edge between existing nodes still counts for reachability, so one
        # bad connection does not also make everything after it look unreachable.
        this = _Edge(edge_id, source, target, handle, ok)
        self.edges.append(this)
        if ok and first is None:
            self.edge_by_output[(source, handle)] = this

    # ------------------------------------------------------------ settings
    def check_settings(self, workflow_settings: Any) -> None:
        if workflow_settings is None:
            return
        if not isinstance(workflow_settings, Mapping):
            self.add(
                "The workflow's settings must be a JSON object.", "malformed", field="settings"
            )
            return
        for key in workflow_settings:
            if key not in SETTINGS_KEYS:
                self.add(
                    f"Settings: {_quote(key)} is not a workflow setting "
                    f"(the settings are {_names(SETTINGS_KEYS)}).",
                    "invalid_settings",
                    field=f"settings.{key}",
                )

        reenrollment = workflow_settings.get("reenrollment")
        if reenrollment is not None and reenrollment not in REENROLLMENT_CHOICES:
            self.add(
                f"Settings: re-enrollment must be {_names(REENROLLMENT_CHOICES, 'or')}.",
                "invalid_settings",
                field="settings.reenrollment",
            )
        self.check_exit_when(workflow_settings.get("exit_when"))
        self.check_quiet_hours(workflow_settings.get("quiet_hours"))

    def check_exit_when(self, exit_when: Any) -> None:
        if exit_when is None:
            return
        field = "settings.exit_when"

        def bad(text: str, subfield: str = "") -> None:
            self.add(f"Settings: {text}", "invalid_settings", field=field + subfield)

        if not isinstance(exit_when, Mapping):
            bad("exit criteria must be an object with an event and/or rules, or null.")
            return
        for key in exit_when:
            if key not in ("event", "match", "rules"):
                bad(f"exit criteria have an unknown field {_quote(key)}.", f".{key}")
        event, match, rules = (exit_when.get(k) for k in ("event", "match", "rules"))
        if event is not None and (not isinstance(event, str) or not event.strip()):
            bad("the exit event must be an event type name.", ".event")
        elif isinstance(event, str) and len(event) > EVENT_TYPE_MAX_LENGTH:
            bad(
                f"the exit event name is {len(event)} characters long; "
                f"event names are at most {EVENT_TYPE_MAX_LENGTH}.",
                ".event",
            )
        if match is not None and match not in ("all", "any"):
            bad("exit rules must match 'all' or 'any'.", ".match")
        if rules is not None:
            for rule_field, text in _rule_errors(rules, f"{field}.rules"):
                self.add(f"Settings: {text}", "invalid_settings", field=rule_field)
        if event is None and not rules:
            bad("exit criteria need an event, at least one rule, or both.")

    def check_quiet_hours(self, quiet_hours: Any) -> None:
        if quiet_hours is None:
            return
        field = "settings.quiet_hours"
        if not isinstance(quiet_hours, Mapping):
            self.add(
                'Settings: quiet hours must be {"start": "HH:MM", "end": "HH:MM"} or null.',
                "invalid_settings",
                field=field,
            )
            return
        for key in quiet_hours:
            if key not in ("start", "end"):
                self.add(
                    f"Settings: quiet hours have an unknown field {_quote(key)}.",
                    "invalid_settings",
                    field=f"{field}.{key}",
                )
        times_ok = True
        for key in ("start", "end"):
            value = quiet_hours.get(key)
            if not isinstance(value, str) or not _TIME_OF_DAY.match(value):
                times_ok = False
                self.add(
                    f"Settings: quiet hours {key} must be a time of day like '21:00'.",
                    "invalid_settings",
                    field=f"{field}.{key}",
                )
        if times_ok and quiet_hours["start"] == quiet_hours["end"]:
            self.add(
                "Settings: quiet hours must start and end at different times.",
                "invalid_settings",
                field=f"{field}.end",
            )

    # ------------------------------------------------------------ graph
    def check_triggers_and_reachability(self) -> None:
        triggers = [n.id for n in self.nodes.values() if n.node_type.category == "trigger"]
        if not triggers:
            self.add(
                "The workflow needs a trigger: add one to say when contacts enter it.",
                "no_trigger",
                field="nodes",
            )
            return
        successors: dict[str, list[str]] = {}
        for edge in self.edges:
            successors.setdefault(edge.source, []).append(edge.target)
        reached = set(triggers)
        frontier = list(triggers)
        while frontier:
            for target in successors.get(frontier.pop(), ()):
                if target not in reached:
                    reached.add(target)
                    frontier.append(target)
        for node_id in self.nodes:
            if node_id not in reached:
                self.add(
                    f"Node {_quote(node_id)} cannot be reached from a trigger; "
                    "connect it or remove it.",
                    "unreachable",
                    node=node_id,
                )

    def check_branch_handles(self) -> None:
        connected = {(edge.source, edge.handle) for edge in self.edges}
        for node in self.nodes.values():
            if not node.node_type.branching or node.handles is None:
                continue
            for handle in node.handles:
                if (node.id, handle) in connected or handle in node.open_handles:
                    continue
                self.add(
                    f"Node {_quote(node.id)}: the {_quote(handle)} branch is not connected. "
                    "Connect it, or mark it as left open to end the run there.",
                    "unconnected_handle",
                    node=node.id,
                    field=f"handles.{handle}",
                )

    def check_cycles(self) -> None:
        """A loop is only allowed through a wait node: otherwise a contact spins forever.

        Remove the wait nodes; any strongly connected component of more than
        one node left is a loop with no wait in it. Edges already reported
        (self-loops, edges into a trigger, outputs that do not exist) and
        nodes of unknown type are left out: their own issue comes first.
        """
        members = [
            node_id
            for node_id, node in self.nodes.items()
            if node.node_type.category != WAIT_CATEGORY
        ]
        allowed = set(members)
        successors: dict[str, list[str]] = {node_id: [] for node_id in members}
        for edge in self.edges:
            if edge.ok and edge.source in allowed and edge.target in allowed:
                successors[edge.source].append(edge.target)
        for component in _strongly_connected(members, successors):
            if len(component) < 2:
                continue
            ids = sorted(component, key=self.node_order.__getitem__)
            self.add(
                f"Nodes {_names(ids)} form a loop with no wait step in it, so a contact "
                "would go round it forever. Add a wait inside the loop or break it.",
                "cycle_without_wait",
                node=ids[0],
            )


def _strongly_connected(
    vertices: list[str], successors: Mapping[str, list[str]]
) -> list[list[str]]:
    """Tarjan's algorithm, iterative (a long chain of nodes must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in vertices:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            vertex, child = work.pop()
            if child == 0:
                index[vertex] = low[vertex] = counter
                counter += 1
                stack.append(vertex)
                on_stack.add(vertex)
            recurse = False
            for i in range(child, len(successors[vertex])):
                nxt = successors[vertex][i]
                if nxt not in index:
                    work.append((vertex, i + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if nxt in on_stack:
                    low[vertex] = min(low[vertex], index[nxt])
            if recurse:
                continue
            if low[vertex] == index[vertex]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == vertex:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[vertex])
    return components


def _output_handles(
    node_type: type[NodeType], config: Mapping[str, Any], *, config_ok: bool
) -> list[str] | None:
    """The node's outputs, or None when an invalid config makes them unknowable.

    Switch and split derive their outputs from config; with a broken config
    they are unknown, and checking edges against them would only repeat the
    config issue as a cascade of handle issues.
    """
    if not config_ok and node_type.handles_from:
        return None
    try:
        return list(node_type.output_handles(config))
    except Exception:
        if config_ok:
            raise
        return None


# ---------------------------------------------------------------- config messages

# jsonschema's messages name the bad value ("0 is less than or equal to the
# minimum of 0"); a marketer needs the rule instead ("must be greater than 0").
_SCHEMA_REWRITES: dict[str, tuple[re.Pattern[str], str]] = {
    "enum": (re.compile(r" is not one of \[(.*)\]$"), "must be one of {0}"),
    "const": (re.compile(r" was expected$"), "has an unexpected value"),
    "minimum": (re.compile(r" is less than the minimum of (\S+)$"), "must be at least {0}"),
    "exclusiveMinimum": (
        re.compile(r" is less than or equal to the minimum of (\S+)$"),
        "must be greater than {0}",
    ),
    "maximum": (re.compile(r" is greater than the maximum of (\S+)$"), "must be at most {0}"),
    "exclusiveMaximum": (
        re.compile(r" is greater than or equal to the maximum of (\S+)$"),
        "must be less than {0}",
    ),
    "minLength": (re.compile(r" is too short$"), "is too short"),
    "maxLength": (re.compile(r" (?:is expected to be empty|is too long)$"), "is too long"),
    "minItems": (re.compile(r" is too short$"), "needs more items"),
    "maxItems": (re.compile(r" (?:is expected to be empty|is too long)$"), "has too many items"),
    "pattern": (re.compile(r" does not match "), "is not in the expected format"),
    "format": (re.compile(r" is not a '([\w-]+)'$"), "must be a valid {0}"),
    "uniqueItems": (re.compile(r" has non-unique elements$"), "must not repeat items"),
    "oneOf": (re.compile(r" is not valid under any of the given schemas$"), "is not valid"),
    "anyOf": (re.compile(r" is not valid under any of the given schemas$"), "is not valid"),
}
_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "empty",
}
_TYPE = re.compile(r" is not of type ((?:'\w+'(?:, )?)+)$")
_REQUIRED = re.compile(r"^'([^']+)' is a required property$")
_ADDITIONAL = re.compile(r"\((.+)\s+(?:was|were) unexpected\)")


def _describe_config_issue(issue: ConfigIssue, root: str = "config") -> tuple[str, str]:
    """(field, readable text) for one config issue: 'config.amount must be greater than 0'."""
    path = "" if issue.field in ("", "(config)") else issue.field
    field = f"{root}.{path}" if path else root
    message = issue.message.strip()
    if not issue.code.startswith("schema."):
        # A node type's own check (check_config) already speaks to people.
        return field, f"{field}: {message}"
    validator = issue.code.removeprefix("schema.")

    if validator == "required" and (match := _REQUIRED.match(message)):
        field = f"{field}.{match.group(1)}"
        return field, f"{field} is required"
    if validator == "additionalProperties" and (match := _ADDITIONAL.search(message)):
        return field, f"{field} has unknown fields: {match.group(1)}"
    if validator in ("minLength", "minItems") and message.endswith(" should be non-empty"):
        return field, f"{field} must not be empty"
    if validator == "type" and (match := _TYPE.search(message)):
        words = [_TYPE_WORDS.get(word, word) for word in re.findall(r"'(\w+)'", match.group(1))]
        return field, f"{field} must be {' or '.join(words)}"
    if validator in _SCHEMA_REWRITES:
        pattern, template = _SCHEMA_REWRITES[validator]
        if match := pattern.search(message):
            values = [group.replace("'", "") for group in match.groups()]
            return field, f"{field} {template.format(*values)}"
    # An unusual schema keyword: jsonschema's own words, kept short.
    if len(message) > 200:
        message = message[:197] + "..."
    return field, f"{field}: {message}"


def _rule_errors(rules: Any, field: str) -> list[tuple[str, str]]:
    """(field, readable text) for each problem with a rules list found at `field`."""
    validator = Draft202012Validator(RULES_SCHEMA)
    found = []
    for error in sorted(validator.iter_errors(rules), key=lambda e: list(e.path)):
        issue = ConfigIssue(
            field=".".join(str(part) for part in error.absolute_path),
            message=error.message,
            code=f"schema.{error.validator}",
        )
        found.append(_describe_config_issue(issue, root=field))
    return found
