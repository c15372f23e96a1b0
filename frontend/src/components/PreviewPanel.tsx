/** Preview: run the draft for a sample contact and event, and watch each step light up. */

import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, api } from "../api/client";
import type { JsonObject, PreviewRequest, Run } from "../api/types";
import { usePlayback, usePlaybackStore } from "../live/context";
import { applyEvents, applySnapshot, EMPTY } from "../live/playback";
import { LiveSocket, type LiveMessage } from "../live/socket";
import { useEditor, useEditorContext } from "../store/context";
import { StepList } from "./StepList";

function parseJson(text: string, what: string): JsonObject {
  if (!text.trim()) return {};
  const parsed: unknown = JSON.parse(text);
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(`${what} must be a JSON object.`);
  return parsed as JsonObject;
}

/** Follow one preview over its WebSocket; a gap in `seq` asks for a snapshot. */
export function usePreviewSocket(runId: string | null) {
  const playback = usePlaybackStore();
  const socket = useRef<LiveSocket | null>(null);
  useEffect(() => {
    if (!runId) return;
    playback.setState({ ...EMPTY, runId, isPreview: true });
    const live = new LiveSocket(
      `/ws/previews/${runId}/`,
      (message: LiveMessage) => {
        const state = playback.getState();
        if (message.type === "snapshot") playback.setState(applySnapshot(state, message));
        else if (message.type === "events" && Array.isArray(message.events)) {
          const { state: next, gap } = applyEvents(state, message.events as Record<string, unknown>[]);
          playback.setState(next);
          if (gap) live.send({ type: "snapshot" });
        }
      },
      (connected) => playback.setState({ connected }),
    );
    socket.current = live;
    return () => live.close();
  }, [runId, playback]);
}

export function PreviewPanel({ onSelectNode }: { onSelectNode: (nodeId: string) => void }) {
  const { store, autosave, readOnly } = useEditorContext();
  const workflow = useEditor((state) => state.workflow);
  const nodes = useEditor((state) => state.nodes);
  const issues = useEditor((state) => state.issues);
  const playback = usePlaybackStore();
  const [runId, setRunId] = useState<string | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const [email, setEmail] = useState("ada@example.com");
  const [properties, setProperties] = useState('{"first_name": "Ada"}');
  const [tags, setTags] = useState("");
  const [timeZone, setTimeZone] = useState("");
  const [eventData, setEventData] = useState("{}");
  const [stepThrough, setStepThrough] = useState(false);
  const [choices, setChoices] = useState<Record<string, string>>({});
  const [eventReply, setEventReply] = useState("{}");
  const [earlier, setEarlier] = useState<Run[]>([]);
  usePreviewSocket(runId);
  const steps = usePlayback((state) => state.steps);
  const runStatus = usePlayback((state) => state.runStatus);
  const runError = usePlayback((state) => state.runError);
  const pausedBefore = usePlayback((state) => state.pausedBefore);
  const id = workflow?.id ?? "";
  const errors = issues.filter((issue) => issue.severity !== "warning");
  const waitNodes = nodes.filter((node) => node.data.nodeType === "wait.event");
  const splitNodes = nodes.filter((node) => node.data.nodeType === "condition.split");
  const last = steps[steps.length - 1];
  const atEventWait = runStatus === "waiting" && !pausedBefore && last?.node_type === "wait.event" && last.status === "waiting";

  const loadEarlier = useCallback(() => {
    if (id) api.runs(id, { preview: true }).then((page) => setEarlier(page.results)).catch(() => undefined);
  }, [id]);
  useEffect(loadEarlier, [loadEarlier, runId]);

  const start = async () => {
    setError("");
    setBusy(true);
    try {
      // A preview runs the saved draft: save what is on screen first.
      if (autosave && !(await autosave.flush())) throw new Error("The draft could not be saved, so it cannot be previewed.");
      const request: PreviewRequest = {
        contact: {
          ...(email.trim() ? { email: email.trim() } : {}),
          properties: parseJson(properties, "Properties"),
          tags: tags.split(",").map((tag) => tag.trim()).filter(Boolean),
          ...(timeZone.trim() ? { time_zone: timeZone.trim() } : {}),
        },
        event: { data: parseJson(eventData, "Event data") },
        mode: stepThrough ? "step" : "run",
        choices: Object.fromEntries(Object.entries(choices).filter(([, handle]) => handle).map(([node, handle]) => [node, { handle }])),
      };
      const run = await api.startPreview(id, request);
      setRunId(run.id);
    } catch (failure) {
      if (failure instanceof ApiError && failure.issues.length) store.getState().setIssues(failure.issues);
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  const act = async (action: () => Promise<unknown>) => {
    setError("");
    try {
      await action();
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    }
  };

  if (runId) {
    return (
      <section className="preview-panel" aria-label="Preview">
        <header className="panel-head row">
          <h2>Preview</h2>
          <span className={`badge ${runStatus}`} data-testid="preview-status">
            {runStatus || "starting"}
          </span>
          <span className="spacer" />
          <button
            type="button"
            className="secondary small"
            onClick={() => {
              setRunId(null);
              playback.setState({ ...EMPTY });
            }}
          >
            New preview
          </button>
        </header>
        <p className="hint">Nothing real happens in a preview: no email leaves, no webhook is called, no contact changes.</p>
        {runError && <p className="field-error">{runError}</p>}
        {pausedBefore && (
          <div className="row">
            <span>Paused before {pausedBefore}.</span>
            <button type="button" className="primary" onClick={() => void act(() => api.previewNext(runId))}>
              Next step
            </button>
          </div>
        )}
        {atEventWait && (
          <div className="choose" role="group" aria-label="What happens at this wait">
            <p>
              Waiting for <strong>{String((last?.output as JsonObject | null)?.waiting ?? "an event")}</strong>. What happens?
            </p>
            <label htmlFor="event-reply">Event data (JSON)</label>
            <textarea id="event-reply" rows={2} value={eventReply} onChange={(event) => setEventReply(event.target.value)} />
            <div className="row">
              <button type="button" className="primary" onClick={() => void act(() => api.previewChoose(runId, "received", parseJson(eventReply, "Event data")))}>
                The event arrives
              </button>
              <button type="button" className="secondary" onClick={() => void act(() => api.previewChoose(runId, "timeout"))}>
                It times out
              </button>
            </div>
          </div>
        )}
        {error && <p className="field-error" role="alert">{error}</p>}
        <StepList steps={steps} onSelect={onSelectNode} />
      </section>
    );
  }

  return (
    <section className="preview-panel" aria-label="Preview">
      <h2>Preview the draft</h2>
      <p className="hint">Runs the current draft for a sample contact. Nothing real happens: no email leaves, no webhook is called.</p>
      <fieldset className="plain" disabled={readOnly || busy}>
        <div className="field">
          <label htmlFor="preview-email">Contact email</label>
          <input id="preview-email" type="text" placeholder="an existing contact's, or any" value={email} onChange={(event) => setEmail(event.target.value)} />
          <p className="hint">An existing contact's email previews with a copy of that contact.</p>
        </div>
        <div className="field">
          <label htmlFor="preview-properties">Contact properties (JSON)</label>
          <textarea id="preview-properties" rows={3} value={properties} onChange={(event) => setProperties(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="preview-tags">Contact tags (comma-separated)</label>
          <input id="preview-tags" type="text" value={tags} onChange={(event) => setTags(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="preview-tz">Contact time zone</label>
          <input id="preview-tz" type="text" placeholder="UTC" value={timeZone} onChange={(event) => setTimeZone(event.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="preview-event">Trigger event data (JSON)</label>
          <textarea id="preview-event" rows={3} value={eventData} onChange={(event) => setEventData(event.target.value)} />
        </div>
        {waitNodes.map((node) => (
          <div className="field" key={node.id}>
            <label htmlFor={`choice-${node.id}`}>At “{node.data.label || node.id}”</label>
            <select id={`choice-${node.id}`} value={choices[node.id] ?? ""} onChange={(event) => setChoices({ ...choices, [node.id]: event.target.value })}>
              <option value="">Ask me when it gets there</option>
              <option value="received">The event arrives</option>
              <option value="timeout">It times out</option>
            </select>
          </div>
        ))}
        {splitNodes.map((node) => {
          const branches = Array.isArray(node.data.config.branches) ? (node.data.config.branches as JsonObject[]) : [];
          return (
            <div className="field" key={node.id}>
              <label htmlFor={`choice-${node.id}`}>At “{node.data.label || node.id}”</label>
              <select id={`choice-${node.id}`} value={choices[node.id] ?? ""} onChange={(event) => setChoices({ ...choices, [node.id]: event.target.value })}>
                <option value="">At random</option>
                {branches.map((branch) => (
                  <option key={String(branch.handle)} value={String(branch.handle)}>
                    Path {String(branch.handle)}
                  </option>
                ))}
              </select>
            </div>
          );
        })}
        <label className="check">
          <input type="checkbox" checked={stepThrough} onChange={(event) => setStepThrough(event.target.checked)} />
          Step through: pause before each step
        </label>
        <div className="row">
          <button type="button" className="primary" disabled={errors.length > 0 || !id} onClick={() => void start()}>
            Run preview
          </button>
        </div>
        {errors.length > 0 && <p className="field-error">Fix {errors.length} problem{errors.length === 1 ? "" : "s"} to preview.</p>}
        {error && <p className="field-error" role="alert">{error}</p>}
      </fieldset>
      {earlier.length > 0 && (
        <>
          <h3>Earlier previews</h3>
          <ul className="earlier">
            {earlier.slice(0, 10).map((run) => (
              <li key={run.id}>
                <button type="button" className="link" onClick={() => setRunId(run.id)}>
                  {new Date(run.created_at).toLocaleString()} · {run.contact_email || "sample contact"} · {run.status}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </section>
  );
}
