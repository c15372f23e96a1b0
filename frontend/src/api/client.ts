/** The one door to the REST API: session cookie + CSRF, the workspace header, JSON errors. */

import type {
  AppConfig,
  DeadLetter,
  DeadLetterResult,
  JsonObject,
  PreviewRequest,
  Run,
  FieldSuggestions,
  Graph,
  Issue,
  NodeTypeInfo,
  Page,
  Results,
  Template,
  Version,
  Workflow,
  WorkflowPriority,
  WorkflowStatus,
} from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    message: string,
  ) {
    super(message);
  }

  get issues(): Issue[] {
    return Array.isArray(this.body.issues) ? (this.body.issues as Issue[]) : [];
  }
}

/** A request that never reached the server (offline, connection reset). */
export class NetworkError extends Error {}

let config: Pick<AppConfig, "csrfToken" | "workspace"> | null = null;

export function configureApi(app: Pick<AppConfig, "csrfToken" | "workspace">): void {
  config = app;
}

function describeError(status: number, body: Record<string, unknown>): string {
  if (typeof body.detail === "string") return body.detail;
  if (status === 0) return "The server could not be reached.";
  return `The server answered ${status}.`;
}

export interface Answer<T> {
  data: T;
  etag: string | null;
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const allHeaders: Record<string, string> = { Accept: "application/json", ...headers };
  if (config) {
    allHeaders["X-Cairn-Workspace"] = config.workspace.slug;
    if (method !== "GET") allHeaders["X-CSRFToken"] = config.csrfToken;
  }
  if (body !== undefined) allHeaders["Content-Type"] = "application/json";
  let response: Response;
  try {
    response = await fetch(`/api/v1/${path}`, {
      method,
      headers: allHeaders,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: `The server answered ${response.status} with a page that is not JSON.` };
    }
  }
  if (!response.ok) {
    const errorBody = (parsed && typeof parsed === "object" ? parsed : {}) as Record<string, unknown>;
    throw new ApiError(response.status, errorBody, describeError(response.status, errorBody));
  }
  return { data: parsed as T, etag: response.headers.get("ETag") };
}

const get = async <T>(path: string) => (await request<T>("GET", path)).data;

export interface DraftSaved {
  draft: Graph;
  issues: Issue[];
  revision?: number;
}

export const api = {
  nodeTypes: () => get<Page<NodeTypeInfo>>("node-types/"),
  workflows: (query: { q?: string; status?: string; page?: number }) => {
    const params = new URLSearchParams({ page_size: "100" });
    if (query.q) params.set("q", query.q);
    if (query.status) params.set("status", query.status);
    if (query.page) params.set("page", String(query.page));
    return get<Page<Workflow>>(`workflows/?${params}`);
  },
  workflow: (id: string) => request<Workflow>("GET", `workflows/${id}/`),
  createWorkflow: async (name: string, draft?: Graph) =>
    (await request<Workflow>("POST", "workflows/", draft ? { name, draft } : { name })).data,
  renameWorkflow: async (id: string, name: string) =>
    (await request<Workflow>("PATCH", `workflows/${id}/`, { name })).data,
  setPriority: async (id: string, priority: WorkflowPriority) =>
    (await request<Workflow>("PATCH", `workflows/${id}/`, { priority })).data,
  deadLetters: (query: { q?: string; workflow?: string; page?: number; pageSize?: number }) => {
    const params = new URLSearchParams({ page_size: String(query.pageSize ?? 50) });
    if (query.q) params.set("q", query.q);
    if (query.workflow) params.set("workflow", query.workflow);
    if (query.page) params.set("page", String(query.page));
    return get<Page<DeadLetter>>(`dead-letters?${params}`);
  },
  retryDeadLetters: async (runs: string[]) =>
    (await request<DeadLetterResult>("POST", "dead-letters/retry", { runs })).data,
  discardDeadLetters: async (runs: string[]) =>
    (await request<DeadLetterResult>("POST", "dead-letters/discard", { runs })).data,
  saveDraft: (id: string, graph: Graph, revision: number | null) =>
    request<DraftSaved>(
      "PUT",
      `workflows/${id}/draft`,
      graph,
      revision === null ? {} : { "If-Match": `"${revision}"` },
    ),
  publish: async (id: string, note = "") =>
    (await request<Workflow>("POST", `workflows/${id}/publish`, { note })).data,
  setStatus: async (id: string, status: WorkflowStatus) =>
    (await request<Workflow>("PUT", `workflows/${id}/status`, { status })).data,
  versions: (id: string) => get<Page<Version>>(`workflows/${id}/versions/?page_size=100`),
  restore: async (id: string, number: number) =>
    (await request<Workflow>("POST", `workflows/${id}/versions/${number}/restore`)).data,
  results: (id: string) => get<Results>(`workflows/${id}/results`),
  templates: () => get<Page<Template>>("templates/"),
  useTemplate: async (slug: string) =>
    (await request<Workflow>("POST", `templates/${slug}/use`, {})).data,
  fields: () => get<FieldSuggestions>("fields"),
  connections: (provider: string) =>
    get<Page<{ id: number; name: string; provider: string; last_test_ok?: boolean | null }>>(
      `connections/?${new URLSearchParams({ provider, page_size: "200" })}`,
    ),
  testConnection: async (id: string) =>
    (await request<{ ok: boolean; detail: string }>("POST", `connections/${id}/test`)).data,
  runs: (id: string, query: { status?: string; contact?: string; since?: string; until?: string; preview?: boolean }) => {
    const params = new URLSearchParams({ page_size: "50" });
    for (const [key, value] of Object.entries(query)) if (value) params.set(key, String(value));
    return get<Page<Run>>(`workflows/${id}/runs/?${params}`);
  },
  run: (id: string) => get<Run>(`runs/${id}/`),
  startPreview: async (id: string, body: PreviewRequest) => (await request<Run>("POST", `workflows/${id}/preview`, body)).data,
  previewNext: async (runId: string) => (await request<Run>("POST", `previews/${runId}/next`)).data,
  previewChoose: async (runId: string, handle: "received" | "timeout", data: JsonObject = {}) =>
    (await request<Run>("POST", `previews/${runId}/choose`, { handle, data })).data,
};
