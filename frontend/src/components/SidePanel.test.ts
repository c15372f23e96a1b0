import { describe, expect, it } from "vitest";

import type { Issue } from "../api/types";
import { problemLookup, variablesFor } from "./SidePanel";

const issue = (node: string, field: string, message: string): Issue => ({ node, field, message, code: "x", edge: null, severity: "error" });

describe("side panel helpers", () => {
  it("puts the server's problems on the config field they name, without the node prefix", () => {
    const lookup = problemLookup(
      [
        issue("c", "config.rules.0.value", "Node 'c': config.rules.0.value is required"),
        issue("c", "config.rules.0.field", "Node 'c': config.rules.0.field must not be empty"),
        issue("c", "handles.yes", "Node 'c': the 'yes' branch is not connected."),
        issue("other", "config.subject", "Node 'other': subject is required"),
      ],
      "c",
    );
    expect(lookup("rules.0.value")).toBe("config.rules.0.value is required");
    expect(lookup("rules.0")).toBe("");
    expect(lookup("rules.0", true)).toBe("config.rules.0.value is required config.rules.0.field must not be empty");
    expect(lookup("subject")).toBe("");
  });

  it("offers known contact properties, the workflow's event data and earlier steps", () => {
    const names = variablesFor(
      {
        contact: ["contact.properties.plan"],
        events: { cart_created: ["event.data.total"], login: ["event.data.device"] },
        engagement: ["engagement.opens"],
        now: ["now.weekday"],
      },
      ["cart_created"],
      ["wait_event"],
    );
    expect(names).toContain("contact.properties.plan");
    expect(names).toContain("event.data.total");
    expect(names).not.toContain("event.data.device");
    expect(names).toContain("steps.wait_event");
    expect(names).toContain("contact.first_name");
    expect(variablesFor(null, [], [])).toContain("contact.email");
  });
});
