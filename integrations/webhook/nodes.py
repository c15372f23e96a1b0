"""action.webhook: call another system's URL with a templated request."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from automation.nodes.base import (
    ConfigIssue,
    NodeContext,
    NodeResult,
    NodeType,
    PermanentNodeError,
)
from automation.templating import render_field, template_issues

from ..common import connection_of
from ..http.guard import static_url_issue
from ..http.redaction import redact, redact_url
from . import client

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
HEADER_NAME_PATTERN = r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"


def _check_url(url: str) -> str:
    url = url.strip()
    try:
        parsed = httpx.URL(url)
    except Exception as error:
        raise PermanentNodeError(f"url: {url!r} is not a valid URL") from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise PermanentNodeError(f"url: {url!r} must start with http:// or https://")
    return url


def _looks_like_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped or stripped[0] not in "[{":
        return False
    try:
        json.loads(stripped)
    except ValueError:
        return False
    return True


class WebhookAction(NodeType):
    type = "action.webhook"
    label = "Call a webhook"
    category = "action"
    description = "Sends an HTTP request to another tool, e.g. to post the contact to your CRM."
    summary = "{method} {url}"
    handles = ("out",)
    has_side_effects = True
    # The answer's body, besides the `response` every outside call keeps
    # private (NodeType.private_output_keys): editors and up read it.
    private_output = ("body",)
    template_fields = ("url", "headers", "body")
    # The connection's credentials go with the request to `url`: graph
    # validation checks that a fixed URL is on the connection's hosts
    # (integrations.destinations); the guarded client checks every call.
    credentials_url = ("url", "connection")
    config_schema = {
        "type": "object",
        "properties": {
            "method": {
                "enum": list(METHODS),
                "title": "Method",
                "default": "POST",
            },
            "url": {
                "type": "string",
                "minLength": 1,
                "title": "URL",
                "description": (
                    "Starts with https:// (or http://). Can use templates such as "
                    "{{ contact.external_id }}."
                ),
            },
            "headers": {
                "type": "object",
                "title": "Headers",
                "description": "Extra HTTP headers, e.g. Authorization. Values can use templates.",
                "propertyNames": {"pattern": HEADER_NAME_PATTERN},
                "additionalProperties": {"type": "string"},
                "default": {},
            },
            "body": {
                "type": ["string", "object", "array"],
                "title": "Body",
                "description": (
                    "Text, or a JSON object whose text values can use templates (sent as JSON)."
                ),
            },
            "connection": {
                "type": "string",
                "title": "HTTP connection",
                "description": (
                    "Optional. Adds the connection's auth: a bearer token, basic auth, an API "
                    "key header, or a Standard Webhooks signature (webhook-id, "
                    "webhook-timestamp, webhook-signature)."
                ),
                "x-widget": "connection",
                "x-provider": "http",
            },
            "timeout_seconds": {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 60,
                "title": "Give up after (seconds)",
                "description": "How long to wait for an answer before trying again later.",
            },
        },
        "required": ["url"],
        "additionalProperties": False,
    }

    @classmethod
    def check_config(cls, config: Mapping[str, Any]) -> list[ConfigIssue]:
        issues = template_issues(config, cls.template_fields)
        url = config["url"].strip()
        if "{" not in url and not url.lower().startswith(("http://", "https://")):
            issues.append(ConfigIssue("url", "the URL must start with http:// or https://", "url"))
        else:
            host = url.split("/")[2] if url.count("/") >= 2 else ""
            refused = static_url_issue(url) if "{" not in host else None
            if refused:
                issues.append(ConfigIssue("url", refused, "url.refused"))
        return issues

    def _request(self, ctx: NodeContext) -> dict[str, Any]:
        data = ctx.data
        config = ctx.config
        url = _check_url(render_field("url", config["url"], data))
        headers = {
            name: " ".join(str(render_field(f"headers.{name}", value, data)).split())
            for name, value in (config.get("headers") or {}).items()
        }
        request: dict[str, Any] = {
            "method": config.get("method", "POST"),
            "url": url,
            "headers": headers,
            "text": None,
            "json_body": None,
        }
        body = config.get("body")
        if isinstance(body, str):
            text = render_field("body", body, data)
            request["text"] = text
            has_type = any(name.lower() == "content-type" for name in headers)
            if not has_type:
                headers["Content-Type"] = (
                    "application/json" if _looks_like_json(text) else "text/plain; charset=utf-8"
                )
        elif body is not None:
            request["json_body"] = render_field("body", body, data)
        return request

    def run(self, ctx: NodeContext) -> NodeResult:
        request = self._request(ctx)
        if ctx.dry_run:
            body = request["json_body"] if request["json_body"] is not None else request["text"]
            return NodeResult(
                output={
                    "dry_run": True,
                    "would": {
                        "method": request["method"],
                        "url": redact_url(request["url"]),
                        # A preview is shown to anyone watching: no credentials in it.
                        "headers": redact(request["headers"]),
                        "body": body,
                    },
                }
            )
        response = client.send_request(
            request["method"],
            request["url"],
            headers=request["headers"],
            text=request["text"],
            json_body=request["json_body"],
            timeout=ctx.config.get("timeout_seconds"),
            idempotency_key=ctx.idempotency_key,
            connection=connection_of(ctx, "connection", "http"),
        )
        return NodeResult(output=response)
