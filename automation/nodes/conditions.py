"""Conditions: send the run down one of several paths."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from automation.rules import MATCH_SCHEMA, RULES_SCHEMA, evaluate

from .base import ConfigIssue, NodeContext, NodeResult, NodeType

HANDLE_PATTERN = "^[a-z0-9_-]+$"

HANDLE_SCHEMA: dict[str, Any] = {
    "type": "string",
    "pattern": HANDLE_PATTERN,
    "minLength": 1,
    "maxLength": 40,
    "title": "Path name",
    "description": "A short name for this path: lowercase letters, digits, - and _.",
}


def _duplicate_handles(
    items: list[Mapping[str, Any]], list_field: str, reserved: tuple[str, ...] = ()
) -> list[ConfigIssue]:
    issues, seen = [], set()
    for index, item in enumerate(items):
        handle = item["handle"]
        if handle in reserved:
            issues.append(
                ConfigIssue(
                    field=f"{list_field}.{index}.handle",
                    message=f"'{handle}' is reserved; choose another name",
                    code="handle.reserved",
                )
            )
        elif handle in seen:
            issues.append(
                ConfigIssue(
                    field=f"{list_field}.{index}.handle",
                    message=f"'{handle}' is used twice; each path needs its own name",
                    code="handle.duplicate",
                )
            )
        seen.add(handle)
    return issues


class IfCondition(NodeType):
    type = "condition.if"
    label = "If / else"
    summary = "If {rules:rules}"
    category = "condition"
    description = "Checks rules on the contact, the event, earlier steps or the time: yes or no."
    handles = ("yes", "no")
    branching = True
    config_schema = {
        "type": "object",
        "properties": {
            "match": MATCH_SCHEMA,
            "rules": {**RULES_SCHEMA, "description": "Leave empty to always go down 'yes'."},
        },
        "required": ["rules"],
        "additionalProperties": False,
    }

    def run(self, ctx: NodeContext) -> NodeResult:
        matched = evaluate(ctx.config.get("match", "all"), ctx.config.get("rules") or [], ctx.data)
        return NodeResult(output={"matched": matched}, handle="yes" if matched else "no")


class SwitchCondition(NodeType):
    type = "condition.switch"
    label = "Switch"
    summary = "Switch: {cases:handles}"
    category = "condition"
    description = "Sends the contact down the first path whose rules match, otherwise 'default'."
    handles = ("default",)
    handles_from = "cases[].handle"
    fixed_handles = ("default",)
    branching = True
    config_schema = {
        "type": "object",
        "properties": {
            "cases": {
                "type": "array",
                "title": "Paths",
                "description": "Checked in order; the first that matches wins.",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "handle": HANDLE_SCHEMA,
                        "label": {"type": "string", "title": "Label"},
                        "match": MATCH_SCHEMA,
                        "rules": RULES_SCHEMA,
                    },
                    "required": ["handle", "rules"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["cases"],
        "additionalProperties": False,
    }

    @classmethod
    def output_handles(cls, config: Mapping[str, Any]) -> list[str]:
        cases = config.get("cases") or []
        return [case["handle"] for case in cases if isinstance(case, Mapping)] + ["default"]

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        return _duplicate_handles(config["cases"], "cases", reserved=("default",))

    def run(self, ctx: NodeContext) -> NodeResult:
        data = ctx.data
        for case in ctx.config.get("cases") or []:
            if evaluate(case.get("match", "all"), case.get("rules") or [], data):
                return NodeResult(output={"case": case["handle"]}, handle=case["handle"])
        return NodeResult(output={"case": "default"}, handle="default")


class SplitCondition(NodeType):
    type = "condition.split"
    label = "A/B split"
    summary = "Split {branches:split}"
    category = "condition"
    description = "Sends each contact down a random path, by percentage (e.g. 50% A, 50% B)."
    handles = ("a", "b")
    handles_from = "branches[].handle"
    branching = True
    config_schema = {
        "type": "object",
        "properties": {
            "branches": {
                "type": "array",
                "title": "Paths",
                "description": "The percentages must add up to 100.",
                "minItems": 2,
                "items": {
                    "type": "object",
                    "properties": {
                        "handle": HANDLE_SCHEMA,
                        "percent": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": 100,
                            "title": "Percent of contacts",
                        },
                    },
                    "required": ["handle", "percent"],
                    "additionalProperties": False,
                },
                "default": [{"handle": "a", "percent": 50}, {"handle": "b", "percent": 50}],
            },
        },
        "required": ["branches"],
        "additionalProperties": False,
    }

    @classmethod
    def output_handles(cls, config: Mapping[str, Any]) -> list[str]:
        branches = config.get("branches") or []
        return [branch["handle"] for branch in branches if isinstance(branch, Mapping)]

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        branches = config["branches"]
        issues = _duplicate_handles(branches, "branches")
        total = sum(branch["percent"] for branch in branches)
        if abs(total - 100) > 1e-6:
            issues.append(
                ConfigIssue(
                    field="branches",
                    message=f"the percentages add up to {total:g}; they must add up to 100",
                    code="split.total",
                )
            )
        return issues

    def run(self, ctx: NodeContext) -> NodeResult:
        # Deterministic per run and node: a retried or redelivered step picks the
        # same path, so a contact never lands in both variants.
        digest = hashlib.sha256(f"{ctx.run_id}:{ctx.node_id}".encode()).hexdigest()
        bucket = int(digest, 16) % 10000
        branches = ctx.config["branches"]
        chosen = branches[-1]["handle"]
        cumulative = 0.0
        for branch in branches:
            cumulative += branch["percent"] * 100
            if bucket < cumulative:
                chosen = branch["handle"]
                break
        return NodeResult(output={"branch": chosen, "bucket": bucket}, handle=chosen)


NODE_TYPES: list[type[NodeType]] = [IfCondition, SwitchCondition, SplitCondition]
