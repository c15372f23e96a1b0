/** Failed runs (dead letters): runs that failed after their retries, retried or discarded in bulk. */

import { useCallback, useEffect, useState } from "react";

import { api } from "../api/client";
import type { AppConfig, DeadLetter } from "../api/types";
import { can } from "../store/context";
import { allSelected, doneMessage, keepListed, toggle, toggleAll } from "./failedRuns";
import { AppHeader, editorUrl, relativeTime } from "./WorkflowListPage";

const PAGE_SIZE = 50;

export function FailedRunsPage({ app }: { app: AppConfig }) {
  const [query, setQuery] = useState("");
  const [page, setPage] = useState(1);
  const [runs, setRuns] = useState<DeadLetter[] | null>(null);
  const [count, setCount] = useState(0);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState("");
  const [error, setError] = useState("");
  const editor = can(app, "editor");

  const refresh = useCallback(() => {
    api
      .deadLetters({ q: query, page, pageSize: PAGE_SIZE })
      .then((answer) => {
        setRuns(answer.results);
        setCount(answer.count);
        setSelected((current) => keepListed(current, answer.results.map((run) => run.id)));
        setError("");
      })
      .catch((failure: Error) => setError(failure.message));
  }, [query, page]);

  useEffect(() => {
    const timer = window.setTimeout(refresh, 200);
    return () => window.clearTimeout(timer);
  }, [refresh]);

  const pageIds = (runs ?? []).map((run) => run.id);
  const act = async (verb: "retry" | "discard") => {
    const ids = [...selected];
    if (!ids.length) return;
    if (verb === "discard" && !window.confirm(`Discard ${ids.length} failed run${ids.length === 1 ? "" : "s"}? Nobody will be able to retry them.`)) return;
    setBusy(true);
    setMessage("");
    try {
      const done = verb === "retry" ? await api.retryDeadLetters(ids) : await api.discardDeadLetters(ids);
      setMessage(doneMessage(verb, done.count));
      setSelected(new Set());
      refresh();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  const pages = Math.max(1, Math.ceil(count / PAGE_SIZE));
  return (
    <div className="app-page">
      <AppHeader app={app} />
      <main className="page">
        <div className="page-head">
          <h1>Failed runs</h1>
          {editor && (
            <div className="row">
              <button type="button" className="secondary" disabled={busy || selected.size === 0} onClick={() => void act("discard")}>
                Discard
              </button>
              <button type="button" className="primary" disabled={busy || selected.size === 0} onClick={() => void act("retry")}>
                Retry
              </button>
            </div>
          )}
        </div>
        <p className="hint">Runs that failed after their last retry. Retry resumes each at the step that failed; discard gives up on it (it stays in the run's history as cancelled).</p>
        <div className="filters" role="search">
          <input
            type="search"
            aria-label="Search errors"
            placeholder="Search the errors…"
            value={query}
            onChange={(event) => {
              setQuery(event.target.value);
              setPage(1);
            }}
          />
          {selected.size > 0 && <span className="muted">{selected.size} selected</span>}
        </div>
        {message && (
          <p className="notice" role="status">
            {message}
          </p>
        )}
        {error && <p className="field-error">{error}</p>}
        {runs === null ? (
          <p>Loading…</p>
        ) : runs.length === 0 ? (
          <p className="empty">{query ? "No failed run matches." : "No failed runs."}</p>
        ) : (
          <table className="workflows failed-runs">
            <caption className="sr-only">{count} failed runs</caption>
            <thead>
              <tr>
                <th scope="col">
                  <input type="checkbox" aria-label="Select all" checked={allSelected(selected, pageIds)} disabled={!editor} onChange={() => setSelected((current) => toggleAll(current, pageIds))} />
                </th>
                <th scope="col">Workflow</th>
                <th scope="col">Contact</th>
                <th scope="col">Failed at</th>
                <th scope="col">Attempts</th>
                <th scope="col">Error</th>
                <th scope="col">When</th>
              </tr>
            </thead>
            <tbody>
              {runs.map((run) => (
                <tr key={run.id}>
                  <td>
                    <input type="checkbox" aria-label={`Select run ${run.id.slice(0, 8)}`} checked={selected.has(run.id)} disabled={!editor} onChange={() => setSelected((current) => toggle(current, run.id))} />
                  </td>
                  <td>
                    <a href={editorUrl(run.workflow)}>{run.workflow_name}</a>
                  </td>
                  <td>{run.contact_email ?? `#${run.contact}`}</td>
                  <td>
                    <code>{run.current_node}</code>
                    {run.failed_node_type && <span className="muted"> {run.failed_node_type}</span>}
                  </td>
                  <td>{run.attempts ?? "—"}</td>
                  <td className="error-text" title={run.error}>
                    {run.error.length > 120 ? `${run.error.slice(0, 119)}…` : run.error}
                  </td>
                  <td title={run.finished_at ? new Date(run.finished_at).toLocaleString() : ""}>{run.finished_at ? relativeTime(run.finished_at) : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {pages > 1 && (
          <div className="row">
            <button type="button" className="secondary small" disabled={page <= 1} onClick={() => setPage(page - 1)}>
              Previous
            </button>
            <span className="muted">
              Page {page} of {pages}
            </span>
            <button type="button" className="secondary small" disabled={page >= pages} onClick={() => setPage(page + 1)}>
              Next
            </button>
          </div>
        )}
      </main>
    </div>
  );
}
