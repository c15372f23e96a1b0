/** Shapes of the REST API (docs/api.md). The graph is stored in React Flow's shape. */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: JsonValue[];
  enumNames?: string[];
  default?: JsonValue;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  additionalProperties?: boolean | JsonSchema;
  pattern?: string;
  "x-widget"?: string;
  /** For `x-widget: connection`: the provider whose connections are offered. */
  "x-provider"?: string;
  /** …or the sibling field whose value names the provider (action.task's `system`). */
  "x-provider-from"?: string;
  /** Choices offered before the connections, e.g. the team inbox. */
  "x-builtin-options"?: { value: string; label: string }[];
  /** Show the field only when a sibling field's value is (`in`) or is not (`not_in`) listed. */
  "x-show-when"?: { field: string; in?: JsonValue[]; not_in?: JsonValue[] };
  [key: string]: unknown;
}

export interface NodeTypeInfo {
  type: string;
  category: string;
  label: string;
  description: string;
  version: number;
  config_schema: JsonSchema;
  handles: string[];
  handles_from: string | null;
  fixed_handles?: string[];
  branching: boolean;
  summary?: string;
}

export interface GraphNode {
  id: string;
  type: string;
  position: { x: number; y: number };
  data: {
    label?: string;
    config?: JsonObject;
    open_handles?: string[];
    [key: string]: unknown;
  };
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
  targetHandle?: string | null;
}

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  settings: JsonObject;
}

export interface Issue {
  message: string;
  code: string;
  node: string | null;
  edge: string | null;
  field: string | null;
  severity: string;
}

export type WorkflowStatus = "draft" | "active" | "paused" | "archived";

/** Which queue a workflow's runs take: workers take high first. */
export type WorkflowPriority = "high" | "normal" | "low";

export interface Workflow {
  id: string;
  name: string;
  description: string;
  status: WorkflowStatus;
  priority?: WorkflowPriority;
  draft: Graph;
  version: number | null;
  issues: Issue[];
  webhook_url: string | null;
  created_at: string;
  updated_at: string;
  revision?: number;
  enrolled?: number;
  active_runs?: number;
}

export interface Page<T> {
  count: number;
  next?: string | null;
  previous?: string | null;
  results: T[];
}

export interface Version {
  number: number;
  published_at: string;
  published_by: string | null;
  note: string;
  graph: Graph;
}

export interface NodeCounts {
  entered: number;
  waiting: number;
  completed: number;
  failed: number;
}

export interface Results {
  enrolled: number;
  by_status: Record<string, number>;
  nodes: Record<string, NodeCounts>;
}

export interface Template {
  slug: string;
  name: string;
  description: string;
  category: string;
  tags?: string[];
  graph: Graph;
}

export interface FieldSuggestions {
  contact: string[];
  events: Record<string, string[]>;
  engagement: string[];
  now: string[];
}

export interface AppConfig {
  user: { username: string };
  workspace: { slug: string; name: string };
  role: "viewer" | "editor" | "publisher" | "admin";
  workspaces: { slug: string; name: string }[];
  csrfToken: string;
  urls: { logout: string; workspaces: string; admin: string | null; apiDocs: string; failedRuns?: string };
  workflowId: string | null;
  /** A page of its own instead of the workflows list ("failed-runs"). */
  page?: string | null;
}

/** GET /api/v1/dead-letters: a run that failed after its retries. */
export interface DeadLetter {
  id: string;
  workflow: string;
  workflow_name: string;
  version: number | null;
  contact: number;
  contact_email: string | null;
  status: string;
  current_node: string;
  failed_node_type: string | null;
  attempts: number | null;
  error: string;
  created_at: string;
  finished_at: string | null;
}

/** POST /api/v1/dead-letters/retry and …/discard. */
export interface DeadLetterResult {
  count: number;
  runs: string[];
}

export interface RunStep {
  seq: number;
  node_id: string;
  node_type: string;
  status: string;
  handle: string;
  output: JsonValue;
  error: string;
  attempt: number;
  started_at: string | null;
  finished_at: string | null;
}

export interface Run {
  id: string;
  workflow: string;
  version: number | null;
  contact: number;
  contact_email: string | null;
  status: string;
  trigger_node: string;
  current_node: string;
  error: string;
  is_preview: boolean;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
  steps?: RunStep[];
  ws?: string;
  preview?: { mode?: string; paused_before?: string | null; event?: JsonObject };
}

export interface PreviewRequest {
  contact: { email?: string; properties?: JsonObject; tags?: string[]; time_zone?: string };
  event: { type?: string; data?: JsonObject };
  mode: "run" | "step";
  choices: Record<string, { handle: string; data?: JsonObject }>;
}
