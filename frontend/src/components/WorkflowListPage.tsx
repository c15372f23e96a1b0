/** The workflows list: search, filter, create (blank or from a template), rename, archive. */

import { useCallback, useEffect, useState } from "react";

import { api } from "../api/client";
import type { AppConfig, Workflow, WorkflowStatus } from "../api/types";
import type { Catalogue } from "../graph/catalogue";
import { can } from "../store/context";
import { Dialog } from "./Dialog";
import { TemplateGallery } from "./TemplateGallery";

const STATUSES: [WorkflowStatus | "", string][] = [
  ["", "Any status"],
  ["draft", "Draft"],
  ["active", "Active"],
  ["paused", "Paused"],
  ["archived", "Archived"],
];

export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.round(hours / 24);
  if (days < 30) return `${days} day${days === 1 ? "" : "s"} ago`;
  return new Date(iso).toLocaleDateString();
}

export const editorUrl = (id: string) => `/workflows/${id}/`;

export function WorkflowListPage({ app, catalogue }: { app: AppConfig; catalogue: Catalogue }) {
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState<WorkflowStatus | "">("");
  const [workflows, setWorkflows] = useState<Workflow[] | null>(null);
  const [count, setCount] = useState(0);
  const [error, setError] = useState("");
  const [dialog, setDialog] = useState<"new" | "templates" | { rename: Workflow } | null>(null);
  const editor = can(app, "editor");

  const refresh = useCallback(() => {
    api
      .workflows({ q: query, status })
      .then((page) => {
        setWorkflows(page.results);
        setCount(page.count);
        setError("");
      })
      .catch((failure: Error) => setError(failure.message));
  }, [query, status]);

  useEffect(() => {
    const timer = window.setTimeout(refresh, 200);
    return () => window.clearTimeout(timer);
  }, [refresh]);

  return (
    <div className="app-page">
      <AppHeader app={app} />
      <main className="page">
        <div className="page-head">
          <h1>Workflows</h1>
          {editor && (
            <div className="row">
              <button type="button" className="secondary" onClick={() => setDialog("templates")}>
                From a template
              </button>
              <button type="button" className="primary" onClick={() => setDialog("new")}>
                New workflow
              </button>
            </div>
          )}
        </div>
        <div className="filters" role="search">
          <input type="search" aria-label="Search workflows" placeholder="Search by name…" value={query} onChange={(event) => setQuery(event.target.value)} />
          <select aria-label="Status" value={status} onChange={(event) => setStatus(event.target.value as WorkflowStatus | "")}>
            {STATUSES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </div>
        {error && <p className="field-error">{error}</p>}
        {workflows === null ? (
          <p>Loading…</p>
        ) : workflows.length === 0 ? (
          <p className="empty">{query || status ? "No workflow matches." : "No workflows yet. Create one from blank or from a template."}</p>
        ) : (
          <table className="workflows">
            <caption className="sr-only">{count} workflows</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Status</th>
                <th scope="col">Version</th>
                <th scope="col">Enrolled</th>
                <th scope="col">Active</th>
                <th scope="col">Last edited</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {workflows.map((workflow) => (
                <tr key={workflow.id}>
                  <td>
                    <a href={editorUrl(workflow.id)}>{workflow.name}</a>
                  </td>
                  <td>
                    <span className={`pill ${workflow.status}`}>{workflow.status}</span>
                  </td>
                  <td>{workflow.version ? `v${workflow.version}` : "—"}</td>
                  <td>{workflow.enrolled ?? "—"}</td>
                  <td>{workflow.active_runs ?? "—"}</td>
                  <td title={new Date(workflow.updated_at).toLocaleString()}>{relativeTime(workflow.updated_at)}</td>
                  <td className="actions">
                    {editor && (
                      <button type="button" className="secondary small" aria-label={`Rename ${workflow.name}`} onClick={() => setDialog({ rename: workflow })}>
                        Rename
                      </button>
                    )}
                    {can(app, "publisher") && workflow.status !== "archived" && (
                      <button
                        type="button"
                        className="secondary small danger-text"
                        aria-label={`Archive ${workflow.name}`}
                        onClick={async () => {
                          if (!window.confirm(`Archive “${workflow.name}”? Contacts in it leave, and it stops enrolling.`)) return;
                          try {
                            await api.setStatus(workflow.id, "archived");
                            refresh();
                          } catch (failure) {
                            setError(failure instanceof Error ? failure.message : String(failure));
                          }
                        }}
                      >
                        Archive
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </main>
      {dialog === "new" && (
        <NameDialog
          title="New workflow"
          action="Create"
          initial=""
          onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            const created = await api.createWorkflow(name);
            window.location.assign(editorUrl(created.id));
          }}
        />
      )}
      {dialog !== null && typeof dialog === "object" && (
        <NameDialog
          title={`Rename “${dialog.rename.name}”`}
          action="Rename"
          initial={dialog.rename.name}
          onClose={() => setDialog(null)}
          onSubmit={async (name) => {
            await api.renameWorkflow(dialog.rename.id, name);
            setDialog(null);
            refresh();
          }}
        />
      )}
      {dialog === "templates" && (
        <TemplateGallery
          catalogue={catalogue}
          onClose={() => setDialog(null)}
          onUse={async (slug) => {
            const created = await api.useTemplate(slug);
            window.location.assign(editorUrl(created.id));
          }}
        />
      )}
    </div>
  );
}

function NameDialog({ title, action, initial, onClose, onSubmit }: { title: string; action: string; initial: string; onClose: () => void; onSubmit: (name: string) => Promise<void> }) {
  const [name, setName] = useState(initial);
  const [error, setError] = useState("");
  return (
    <Dialog title={title} onClose={onClose}>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          try {
            await onSubmit(name.trim());
          } catch (failure) {
            setError(failure instanceof Error ? failure.message : String(failure));
          }
        }}
      >
        <div className="field">
          <label htmlFor="workflow-name">Name</label>
          <input id="workflow-name" value={name} required maxLength={200} onChange={(event) => setName(event.target.value)} />
        </div>
        {error && <p className="field-error">{error}</p>}
        <div className="row end">
          <button type="submit" className="primary" disabled={!name.trim()}>
            {action}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function AppHeader({ app }: { app: AppConfig }) {
  return (
    <header className="app-header">
      <a className="brand" href="/workflows/">
        Cairn<span>.</span>
      </a>
      <span className="workspace" title="Workspace">
        {app.workspace.name}
      </span>
      {app.workspaces.length > 1 && (
        <a href={app.urls.workspaces} className="muted">
          Switch workspace
        </a>
      )}
      <a href="/workflows/">Workflows</a>
      <a href="/products/">Products</a>
      {app.urls.failedRuns && <a href={app.urls.failedRuns}>Failed runs</a>}
      <span className="spacer" />
      {app.urls.admin && <a href={app.urls.admin}>Admin</a>}
      <a href={app.urls.apiDocs}>API docs</a>
      <span className="muted">
        {app.user.username} · {app.role}
      </span>
      <form method="post" action={app.urls.logout}>
        <input type="hidden" name="csrfmiddlewaretoken" value={app.csrfToken} />
        <button type="submit" className="link">
          Log out
        </button>
      </form>
    </header>
  );
}
