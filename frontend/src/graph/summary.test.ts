import { describe, expect, it } from "vitest";

import type { NodeTypeInfo } from "../api/types";
import { catalogue } from "../test/catalogue";
import { formatDuration, summarize } from "./summary";

const info = (type: string) => catalogue.get(type) as NodeTypeInfo;

describe("summaries from the catalogue's templates", () => {
  it("says how long a wait is, in the singular when it is one", () => {
    expect(summarize(info("wait.delay"), { amount: 2, unit: "days" })).toBe("Wait 2 days");
    expect(summarize(info("wait.delay"), { amount: 1, unit: "hours" })).toBe("Wait 1 hour");
  });

  it("reads a condition's rules with symbols and drops the contact.properties prefix", () => {
    expect(summarize(info("condition.if"), { match: "all", rules: [{ field: "contact.properties.plan", op: "eq", value: "pro" }] })).toBe(
      "If plan = pro",
    );
    expect(
      summarize(info("condition.if"), {
        match: "any",
        rules: [
          { field: "event.data.total", op: "gte", value: 50 },
          { field: "contact.tags", op: "contains", value: "vip" },
          { field: "contact.properties.score", op: "gt", value: 9 },
        ],
      }),
    ).toBe("If event.data.total ≥ 50 or tags contains vip or 1 more");
  });

  it("names operators by their label when there is no symbol", () => {
    expect(summarize(info("condition.if"), { rules: [{ field: "contact.email", op: "exists" }] })).toBe("If email is set");
  });

  it("shows an email's subject", () => {
    expect(summarize(info("action.email"), { subject: "You left something behind", body: "…" })).toBe("Email: You left something behind");
  });

  it("keeps an optional part only when its fields are set", () => {
    expect(summarize(info("wait.event"), { event: "order_placed", timeout: { amount: 4, unit: "hours" } })).toBe(
      "Wait for order_placed, up to 4 hours",
    );
    expect(summarize(info("wait.event"), { event: "order_placed" })).toBe("Wait for order_placed");
    expect(summarize(info("action.tag"), { add: ["vip"], remove: [] })).toBe("Tags +vip");
    expect(summarize(info("action.tag"), { add: ["vip", "buyer"], remove: ["lead"] })).toBe("Tags +vip, buyer -lead");
  });

  it("is empty while a required field is missing, so the node says it is not configured", () => {
    expect(summarize(info("action.email"), { body: "hello" })).toBe("");
    expect(summarize(info("wait.delay"), {})).toBe("");
  });

  it("shows split percentages and switch paths", () => {
    expect(
      summarize(info("condition.split"), {
        branches: [
          { handle: "a", percent: 70 },
          { handle: "b", percent: 30 },
        ],
      }),
    ).toBe("Split a 70% / b 30%");
    expect(summarize(info("condition.switch"), { cases: [{ handle: "pro", rules: [] }, { handle: "free", rules: [] }] })).toBe(
      "Switch: pro, free",
    );
  });

  it("names an enum value by its enumNames label", () => {
    expect(summarize(info("trigger.property"), { property: "score", mode: "crosses_above", value: 50 })).toBe(
      "score: rises to or above a value 50",
    );
  });

  it("cuts long summaries", () => {
    const text = summarize(info("action.email"), { subject: "x".repeat(200), body: "b" });
    expect(text.length).toBe(80);
    expect(text.endsWith("…")).toBe(true);
  });

  it("formats durations", () => {
    expect(formatDuration({ amount: 1.5, unit: "days" })).toBe("1.5 days");
    expect(formatDuration("nope")).toBe("");
  });
});
