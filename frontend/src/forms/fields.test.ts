import { describe, expect, it } from "vitest";

import type { NodeTypeInfo } from "../api/types";
import { catalogue } from "../test/catalogue";
import { connectionProvider, describeFields, isShown, kindOf, splitProblem } from "./fields";

const fieldsOf = (type: string) => describeFields((catalogue.get(type) as NodeTypeInfo).config_schema);
const kinds = (type: string) => Object.fromEntries(fieldsOf(type).map((field) => [field.key, field.kind]));

describe("schema → form", () => {
  it("shows a task's connection and project only for an outside tracker, offering that tracker's connections", () => {
    const schema = (catalogue.get("action.task") as NodeTypeInfo).config_schema;
    const shown = (values: Record<string, string>) =>
      fieldsOf("action.task").filter((field) => isShown(field, schema, values)).map((field) => field.key);
    expect(shown({ title: "Call" })).toEqual(["title", "description", "assignee", "system"]);
    expect(shown({ title: "Call", system: "jira" })).toEqual(["title", "description", "assignee", "system", "connection", "project"]);
    const connection = fieldsOf("action.task").find((field) => field.key === "connection")!;
    expect(connection.kind).toBe("connection");
    expect(connectionProvider(connection, schema, { system: "linear" })).toBe("linear");
  });

  it("offers notify the team inbox or a Slack connection, and asks for the Slack channel only for Slack", () => {
    const schema = (catalogue.get("action.notify") as NodeTypeInfo).config_schema;
    const [channel, slackChannel] = fieldsOf("action.notify");
    expect(channel?.kind).toBe("connection");
    expect(connectionProvider(channel!, schema, {})).toBe("slack");
    expect(channel?.schema["x-builtin-options"]).toEqual([{ value: "inbox", label: "Team inbox" }]);
    expect(isShown(slackChannel!, schema, {})).toBe(false); // the default is the inbox
    expect(isShown(slackChannel!, schema, { channel: "12" })).toBe(true);
  });

  it("gives conditions a rule builder and a select that honours enumNames", () => {
    expect(kinds("condition.if")).toEqual({ match: "select", rules: "rules" });
    const match = fieldsOf("condition.if").find((field) => field.key === "match");
    expect(match?.options).toEqual([
      { value: "all", label: "All rules match" },
      { value: "any", label: "Any rule matches" },
    ]);
  });

  it("gives waits a duration picker", () => {
    expect(kinds("wait.event")).toMatchObject({ event: "text", timeout: "duration", rules: "rules" });
    expect(kindOf({ type: "object", properties: { amount: { type: "number" }, unit: { enum: ["days"] } } })).toBe("duration");
  });

  it("gives email and webhook text the template editor", () => {
    expect(kinds("action.email")).toMatchObject({ subject: "template", body: "template-area", html: "template-area", to: "text", connection: "connection", track_opens: "boolean" });
    expect(kinds("action.webhook")).toMatchObject({ method: "select", url: "template", headers: "key-value", body: "text-or-json", timeout_seconds: "number" });
  });

  it("gives splits their percentage editor and switches a list of cases with nested rules", () => {
    expect(kinds("condition.split")).toEqual({ branches: "split" });
    const cases = fieldsOf("condition.switch")[0];
    expect(cases?.kind).toBe("object-list");
    expect(Object.fromEntries(cases?.fields.map((field) => [field.key, field.kind]) ?? [])).toMatchObject({ handle: "text", match: "select", rules: "rules" });
  });

  it("maps lists, numbers, booleans and required flags", () => {
    expect(kinds("action.tag")).toEqual({ add: "string-list", remove: "string-list" });
    expect(kinds("wait.until")).toMatchObject({ weekdays: "enum-list", mode: "select" });
    expect(kinds("trigger.inactivity")).toEqual({ event: "text", days: "integer" });
    expect(kindOf({ type: "boolean" })).toBe("boolean");
    expect(fieldsOf("action.email").filter((field) => field.required).map((field) => field.key)).toEqual(["subject", "body"]);
  });

  it("lets a schema name its widget", () => {
    expect(kindOf({ type: "string", "x-widget": "textarea" })).toBe("textarea");
    expect(kindOf({ type: "string", "x-widget": "no-such-widget" })).toBe("text");
    expect(kindOf({ type: "string", "x-widget": "connection", "x-provider": "slack" })).toBe("connection");
  });

  it("checks that split percentages add up to 100", () => {
    expect(splitProblem([{ handle: "a", percent: 50 }, { handle: "b", percent: 50 }])).toBeNull();
    expect(splitProblem([{ handle: "a", percent: 60 }, { handle: "b", percent: 30 }])).toBe("The percentages add up to 90, not 100.");
    expect(splitProblem([{ handle: "a", percent: 100 }])).toBe("A split needs at least two paths.");
  });
});
