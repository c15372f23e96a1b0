/** Runs of a published workflow: filter, open one, see its path on the canvas. */

import { useCallback, useEffect, useState } from "react";

import { api } from "../api/client";
import type { Run } from "../api/types";
import { usePlayback, usePlaybackStore } from "../live/context";
import { applySnapshot, EMPTY } from "../live/playback";
import { useEditor } from "../store/context";
import { StepList } from "./StepList";

const STATUSES = ["", "running", "waiting", "completed", "failed", "cancelled", "exited"];

export function RunsPanel({ onSelectNode, live }: { onSelectNode: (nodeId: string) => void; live: Run[] }) {
  const workflow = useEditor((state) => state.workflow);
  const playback = usePlaybackStore();
  const [status, setStatus] = useState("");
  const [contact, setContact] = useState("");
  const [since, setSince] = useState("");
  const [until, setUntil] = useState("");
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [error, setError] = useState("");
  const [opened, setOpened] = useState<Run | null>(null);
  const steps = usePlayback((state) => state.steps);
  const id = workflow?.id ?? "";

  const refresh = useCallback(() => {
    if (!id) return;
    api
      .runs(id, { status, contact, since, until })
      .then((page) => {
        setRuns(page.results);
        setError("");
      })
      .catch((failure: Error) => setError(failure.message));
  }, [id, status, contact, since, until]);

  // Refetch when a filter changes, and when live activity says runs moved.
  useEffect(() => {
    const timer = window.setTimeout(refresh, 250);
    return () => window.clearTimeout(timer);
  }, [refresh, live]);

  const open = async (runId: string) => {
    const run = await api.run(runId);
    setOpened(run);
    playback.setState(
      applySnapshot({ ...EMPTY, runId: run.id }, { run: run.id, run_status: run.status, current_node: run.current_node, run_error: run.error, steps: run.steps ?? [] }),
    );
  };

  if (workflow?.version === null) {
    return (
      <section className="runs-panel" aria-label="Runs">
        <h2>Runs</h2>
        <p className="hint">Publish the workflow to see the contacts it runs. To try the draft, use Preview.</p>
      </section>
    );
  }

  if (opened) {
    return (
      <section className="runs-panel" aria-label="Runs">
        <header className="panel-head row">
          <h2>Run of {opened.contact_email || `contact ${opened.contact}`}</h2>
          <span className="spacer" />
          <button
            type="button"
            className="secondary small"
            onClick={() => {
              setOpened(null);
              playback.setState({ ...EMPTY });
            }}
          >
            All runs
          </button>
        </header>
        <p>
          <span className={`badge ${opened.status}`}>{opened.status}</span> v{opened.version} · started {new Date(opened.created_at).toLocaleString()}
        </p>
        {opened.error && <p className="field-error">{opened.error}</p>}
        <StepList steps={steps} onSelect={onSelectNode} />
      </section>
    );
  }

  return (
    <section className="runs-panel" aria-label="Runs">
      <h2>Runs</h2>
      <div className="run-filters">
        <select aria-label="Run status" value={status} onChange={(event) => setStatus(event.target.value)}>
          {STATUSES.map((value) => (
            <option key={value} value={value}>
              {value || "Any status"}
            </option>
          ))}
        </select>
        <input type="search" aria-label="Contact" placeholder="Contact email or id" value={contact} onChange={(event) => setContact(event.target.value)} />
        <label className="inline">
          From <input type="date" aria-label="Started from" value={since} onChange={(event) => setSince(event.target.value)} />
        </label>
        <label className="inline">
          to <input type="date" aria-label="Started before" value={until} onChange={(event) => setUntil(event.target.value)} />
        </label>
      </div>
      {error && <p className="field-error">{error}</p>}
      {live.length > 0 && (
        <>
          <h3>Live</h3>
          <ul className="live-runs" aria-label="Live activity">
            {live.slice(0, 8).map((run) => (
              <li key={run.id}>
                <button type="button" className="link" onClick={() => void open(run.id)}>
                  {run.contact_email || `contact ${run.contact}`}
                </button>{" "}
                <span className={`badge ${run.status}`}>{run.status}</span> <span className="muted">at {run.current_node}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      <h3>All runs</h3>
      {runs === null ? (
        <p>Loading…</p>
      ) : runs.length === 0 ? (
        <p className="hint">No run matches.</p>
      ) : (
        <ul className="run-list">
          {runs.map((run) => (
            <li key={run.id}>
              <button type="button" className="link" onClick={() => void open(run.id)} aria-label={`Open the run of ${run.contact_email || run.contact}`}>
                {run.contact_email || `contact ${run.contact}`}
              </button>{" "}
              <span className={`badge ${run.status}`}>{run.status}</span>
              <span className="muted small"> {new Date(run.created_at).toLocaleString()}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
