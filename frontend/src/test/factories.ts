import type { Workflow } from "../api/types";

export function workflowFactory(overrides: Partial<Workflow> = {}): Workflow {
  return {
    id: "wf-1",
    name: "Welcome",
    description: "",
    status: "draft",
    draft: { nodes: [], edges: [], settings: {} },
    version: null,
    issues: [],
    webhook_url: null,
    created_at: "2026-11-25T10:00:00Z",
    updated_at: "2026-11-25T10:00:00Z",
    revision: 1,
    ...overrides,
  };
}
