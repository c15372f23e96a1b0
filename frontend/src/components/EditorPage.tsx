/** The workflow editor: palette, canvas, side panel, toolbar, problems, autosave. */

import { ReactFlowProvider, type ReactFlowInstance } from "@xyflow/react";
import { useCallback, useEffect, useRef, useState } from "react";

import { createPlaybackStore, PlaybackContext, useHighlightFromPlayback } from "../live/context";
import { LiveSocket, type LiveMessage } from "../live/socket";

import { ApiError, api } from "../api/client";
import type { AppConfig, FieldSuggestions, NodeTypeInfo, Results, Run, Workflow, WorkflowStatus } from "../api/types";
import { handlesFor, type Catalogue } from "../graph/catalogue";
import type { CairnEdge, CairnNode } from "../graph/convert";
import { DEFAULT_NODE_SIZE, layout, workerElk } from "../graph/layout";
import { Autosave, type Backup, readBackup, backupKey, revisionFrom } from "../store/autosave";
import { can, EditorContext, type EditorContextValue, useEditor, useEditorContext } from "../store/context";
import { createEditorStore, type EditorStore } from "../store/editor";
import { Canvas } from "./Canvas";
import { Palette } from "./Palette";
import { PreviewPanel } from "./PreviewPanel";
import { ProblemsList } from "./ProblemsList";
import { RunsPanel } from "./RunsPanel";
import { ShortcutsHelp } from "./ShortcutsHelp";
import { SidePanel } from "./SidePanel";
import { VersionHistory } from "./VersionHistory";

const RESULTS_EVERY_MS = 3000;

const isTyping = (target: EventTarget | null) =>
  target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));

declare global {
  interface Window {
    /** Set when the editor is interactive; the browser tests read it. */
    __cairn?: { ready: number; nodes: number; store: EditorStore };
  }
}

export function EditorPage({ app, workflowId, types, catalogue }: { app: AppConfig; workflowId: string; types: NodeTypeInfo[]; catalogue: Catalogue }) {
  const [loaded, setLoaded] = useState<{ context: EditorContextValue; backup: Backup | null } | null>(null);
  const [error, setError] = useState("");
  const [suggestions, setSuggestions] = useState<FieldSuggestions | null>(null);

  useEffect(() => {
    let stopped = false;
    let autosave: Autosave | null = null;
    api
      .workflow(workflowId)
      .then((answer) => {
        if (stopped) return;
        const workflow = answer.data;
        const revision = revisionFrom({ etag: answer.etag, data: { revision: workflow.revision } });
        const store = createEditorStore(catalogue, window.localStorage);
        store.getState().load(workflow, revision);
        const readOnly = !can(app, "editor") || workflow.status === "archived";
        autosave = readOnly ? null : new Autosave(store, workflow.id, (graph, rev) => api.saveDraft(workflow.id, graph, rev), window.localStorage);
        const backup = readBackup(window.localStorage, workflow.id);
        const differs = backup && JSON.stringify(backup.graph) !== JSON.stringify(store.getState().graph());
        setLoaded({ context: { store, catalogue, autosave, readOnly, app }, backup: differs && !readOnly ? backup : null });
      })
      .catch((failure: Error) => setError(failure instanceof ApiError && failure.status === 404 ? "This workflow does not exist in this workspace." : failure.message));
    api
      .fields()
      .then((fields) => !stopped && setSuggestions(fields))
      .catch(() => undefined); // suggestions are a help, never a requirement
    return () => {
      stopped = true;
      autosave?.stop();
    };
  }, [workflowId, catalogue, app]);

  if (error) {
    return (
      <main className="page">
        <p className="field-error">{error}</p>
        <a href="/workflows/">Back to workflows</a>
      </main>
    );
  }
  if (!loaded) return <p className="loading">Loading the workflow…</p>;
  return (
    <EditorContext.Provider value={loaded.context}>
      <ReactFlowProvider>
        <Editor types={types} suggestions={suggestions} initialBackup={loaded.backup} />
      </ReactFlowProvider>
    </EditorContext.Provider>
  );
}

function Editor({ types, suggestions, initialBackup }: { types: NodeTypeInfo[]; suggestions: FieldSuggestions | null; initialBackup: Backup | null }) {
  const context = useEditorContext();
  const { store, autosave, readOnly, app, catalogue } = context;
  const flowRef = useRef<ReactFlowInstance<CairnNode, CairnEdge> | null>(null);
  const [dialog, setDialog] = useState<"versions" | "help" | null>(null);
  const [notice, setNotice] = useState("");
  const [backup, setBackup] = useState(initialBackup);
  const workflow = useEditor((state) => state.workflow) as Workflow;
  const nodeCount = useEditor((state) => state.nodes.length);

  const say = useCallback((message: string) => {
    setNotice(message);
    window.setTimeout(() => setNotice((current) => (current === message ? "" : current)), 5000);
  }, []);

  const focusNode = useCallback((nodeId: string) => {
    const flow = flowRef.current;
    const node = flow?.getNode(nodeId);
    if (!flow || !node) return;
    const width = node.measured?.width ?? DEFAULT_NODE_SIZE.width;
    const height = node.measured?.height ?? DEFAULT_NODE_SIZE.height;
    void flow.setCenter(node.position.x + width / 2, node.position.y + height / 2, { zoom: Math.max(flow.getZoom(), 0.9), duration: 300 });
  }, []);

  const addAtCenter = useCallback(
    (type: string) => {
      const flow = flowRef.current;
      const bounds = document.querySelector(".canvas")?.getBoundingClientRect();
      const center = flow && bounds ? flow.screenToFlowPosition({ x: bounds.x + bounds.width / 2, y: bounds.y + bounds.height / 3 }) : { x: 0, y: 0 };
      // Stack additions so pressing several items doesn't pile them on one spot.
      const offset = (store.getState().nodes.length % 6) * 24;
      const id = store.getState().addNode(type, { x: center.x - 120 + offset, y: center.y + offset });
      if (id) say(`Added ${catalogue.get(type)?.label ?? type} (${id}).`);
    },
    [store, catalogue, say],
  );

  const tidy = useCallback(async () => {
    const state = store.getState();
    const flow = flowRef.current;
    const positions = await layout(
      await workerElk(),
      state.nodes.map((node) => ({
        id: node.id,
        width: node.measured?.width ?? DEFAULT_NODE_SIZE.width,
        height: node.measured?.height ?? DEFAULT_NODE_SIZE.height,
        handles: handlesFor(catalogue.get(node.data.nodeType), node.data.config),
      })),
      state.edges,
    );
    store.getState().applyPositions(positions);
    window.requestAnimationFrame(() => void flow?.fitView({ duration: 300 }));
    say("Tidied up.");
  }, [store, catalogue, say]);

  // Keyboard shortcuts (listed in ShortcutsHelp).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (isTyping(event.target) || document.querySelector(".backdrop")) return;
      const state = store.getState();
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (mod && key === "z" && !event.shiftKey && !readOnly) state.undo();
      else if (((mod && key === "z" && event.shiftKey) || (mod && key === "y")) && !readOnly) state.redo();
      else if (mod && key === "d" && !readOnly) state.duplicateSelected();
      else if (mod && key === "c") {
        const copied = state.copySelected();
        if (copied) say(`Copied ${copied} step${copied > 1 ? "s" : ""}.`);
        return;
      } else if (mod && key === "v" && !readOnly) {
        const pasted = state.paste();
        say(pasted ? `Pasted ${pasted} step${pasted > 1 ? "s" : ""}.` : "Nothing to paste.");
      } else if (mod && key === "a") state.selectAll();
      else if (mod && key === "s") void autosave?.flush();
      else if (event.shiftKey && key === "l" && !mod && !readOnly) void tidy();
      else if (event.shiftKey && key === "f" && !mod) void flowRef.current?.fitView({ duration: 300 });
      else if (event.key === "?") setDialog("help");
      else if (event.key === "Escape") state.selectNode(null);
      else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [store, autosave, readOnly, tidy, say]);

  // Never lose work by closing the tab.
  useEffect(() => {
    const onBeforeUnload = (event: BeforeUnloadEvent) => {
      const state = store.getState();
      if (state.saveState !== "saved") {
        event.preventDefault();
        event.returnValue = "";
      }
    };
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [store]);

  // Per-node counts and live runs of a published workflow: pushed over a
  // WebSocket; polled only while the socket is down.
  const published = workflow.version !== null;
  const [liveRuns, setLiveRuns] = useState<Run[]>([]);
  const [socketUp, setSocketUp] = useState(false);
  useEffect(() => {
    if (!published) return;
    const toRun = (item: Record<string, unknown>, known?: Run): Run =>
      ({
        ...(known ?? {}),
        id: String(item.run),
        contact: Number(item.contact ?? known?.contact ?? 0),
        contact_email: (item.contact_email as string | undefined) ?? known?.contact_email ?? null,
        status: String(item.run_status ?? known?.status ?? ""),
        current_node: String(item.current_node ?? known?.current_node ?? ""),
      }) as Run;
    const socket = new LiveSocket(
      `/ws/workflows/${workflow.id}/`,
      (message: LiveMessage) => {
        if (message.type === "snapshot") {
          store.getState().setResults(message.results as Results);
          setLiveRuns(((message.recent as Record<string, unknown>[]) ?? []).map((item) => toRun(item)));
        } else if (message.type === "counts") {
          store.getState().setResults(message.results as Results);
        } else if (message.type === "events" && Array.isArray(message.events)) {
          setLiveRuns((current) => {
            const byId = new Map(current.map((run) => [run.id, run]));
            for (const event of message.events as Record<string, unknown>[]) {
              const id = String(event.run);
              const known = byId.get(id);
              byId.delete(id);
              byId.set(id, toRun(event, known));
            }
            return [...byId.values()].reverse().slice(0, 20);
          });
        }
      },
      setSocketUp,
    );
    return () => socket.close();
  }, [published, workflow.id, store]);
  useEffect(() => {
    if (!published || socketUp) return;
    let stopped = false;
    const refresh = () =>
      api
        .results(workflow.id)
        .then((results) => !stopped && store.getState().setResults(results))
        .catch(() => undefined);
    void refresh();
    const timer = window.setInterval(refresh, RESULTS_EVERY_MS);
    return () => {
      stopped = true;
      window.clearInterval(timer);
    };
  }, [published, socketUp, workflow.id, store]);

  // A preview and an opened run play back apart; the canvas shows the one whose tab was last open.
  const [previewPlayback] = useState(createPlaybackStore);
  const [runPlayback] = useState(createPlaybackStore);
  const [tab, setTab] = useState<"step" | "preview" | "runs">("step");
  const [shown, setShown] = useState<"preview" | "runs">("preview");
  useEffect(() => {
    if (tab !== "step") setShown(tab);
  }, [tab]);
  useHighlightFromPlayback(previewPlayback, shown === "preview");
  useHighlightFromPlayback(runPlayback, shown === "runs");
  const showNode = useCallback(
    (nodeId: string) => {
      store.getState().selectNode(nodeId);
      focusNode(nodeId);
    },
    [store, focusNode],
  );

  const onReady = useCallback(
    (instance: ReactFlowInstance<CairnNode, CairnEdge>) => {
      flowRef.current = instance;
      window.__cairn = { ready: performance.now(), nodes: store.getState().nodes.length, store };
    },
    [store],
  );

  return (
    <div className="editor">
      <Toolbar
        onTidy={() => void tidy()}
        onFit={() => void flowRef.current?.fitView({ duration: 300 })}
        onVersions={() => setDialog("versions")}
        onHelp={() => setDialog("help")}
        say={say}
      />
      {backup && (
        <div className="banner warning" role="alert">
          Changes you made on {new Date(backup.at).toLocaleString()} were not saved to the server, but this browser kept them.
          <button
            type="button"
            onClick={() => {
              store.getState().replaceDocument(backup.graph);
              setBackup(null);
            }}
          >
            Restore my changes
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              window.localStorage.removeItem(backupKey(workflow.id));
              setBackup(null);
            }}
          >
            Discard them
          </button>
        </div>
      )}
      <ConflictBanner />
      <div className="editor-body">
        <Palette types={types} onAdd={addAtCenter} disabled={readOnly} />
        <div className="canvas-column">
          <Canvas onReady={onReady} />
          <ProblemsList onFocusNode={focusNode} />
          {nodeCount === 0 && !readOnly && (
            <div className="empty-canvas" aria-hidden="true">
              Start with a trigger: drag one from the palette, or press it.
            </div>
          )}
        </div>
        <div className="right-panel">
            <div className="tabs" role="tablist" aria-label="Panels">
              {(
                [
                  ["step", "Step"],
                  ["preview", "Preview"],
                  ["runs", "Runs"],
                ] as const
              ).map(([key, label]) => (
                <button key={key} type="button" role="tab" id={`tab-${key}`} aria-selected={tab === key} aria-controls={`panel-${key}`} className={tab === key ? "active" : ""} onClick={() => setTab(key)}>
                  {label}
                </button>
              ))}
            </div>
            {/* All three stay mounted, so a preview goes on streaming behind another tab. */}
            <div role="tabpanel" id="panel-step" aria-labelledby="tab-step" className="tab-body" hidden={tab !== "step"}>
              <SidePanel suggestions={suggestions} />
            </div>
            <div role="tabpanel" id="panel-preview" aria-labelledby="tab-preview" className="tab-body" hidden={tab !== "preview"}>
              <PlaybackContext.Provider value={previewPlayback}>
                <PreviewPanel onSelectNode={showNode} />
              </PlaybackContext.Provider>
            </div>
            <div role="tabpanel" id="panel-runs" aria-labelledby="tab-runs" className="tab-body" hidden={tab !== "runs"}>
              <PlaybackContext.Provider value={runPlayback}>
                <RunsPanel onSelectNode={showNode} live={liveRuns} />
              </PlaybackContext.Provider>
            </div>
          </div>
      </div>
      <div className="sr-only" role="status" aria-live="polite">
        {notice}
      </div>
      {notice && <div className="toast">{notice}</div>}
      {dialog === "help" && <ShortcutsHelp onClose={() => setDialog(null)} />}
      {dialog === "versions" && (
        <VersionHistory
          workflowId={workflow.id}
          catalogue={catalogue}
          canRestore={can(app, "publisher") && !readOnly}
          onClose={() => setDialog(null)}
          onRestore={async (number) => {
            await autosave?.flush();
            const restored = await api.restore(workflow.id, number);
            store.getState().load(restored, typeof restored.revision === "number" ? restored.revision : null);
            setDialog(null);
            say(`Version ${number} restored into the draft.`);
          }}
        />
      )}
    </div>
  );
}

const STATUS_LABEL: Record<WorkflowStatus, string> = { draft: "Draft", active: "Active", paused: "Paused", archived: "Archived" };

function SaveIndicator() {
  const saveState = useEditor((state) => state.saveState);
  const message = useEditor((state) => state.saveMessage);
  const text = {
    saved: "All changes saved",
    dirty: "Unsaved changes…",
    saving: "Saving…",
    error: `Not saved: ${message}`,
    conflict: "Not saved: changed elsewhere",
    offline: message || "Not saved: retrying",
  }[saveState];
  return (
    <span className={`save-state ${saveState}`} role="status" aria-live="polite" data-state={saveState}>
      {text}
    </span>
  );
}

function Toolbar({ onTidy, onFit, onVersions, onHelp, say }: { onTidy: () => void; onFit: () => void; onVersions: () => void; onHelp: () => void; say: (message: string) => void }) {
  const { store, autosave, readOnly, app } = useEditorContext();
  const workflow = useEditor((state) => state.workflow) as Workflow;
  const canUndo = useEditor((state) => state.past.length > 0);
  const canRedo = useEditor((state) => state.future.length > 0);
  const issues = useEditor((state) => state.issues);
  const [renaming, setRenaming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [publishError, setPublishError] = useState("");
  const errors = issues.filter((issue) => issue.severity !== "warning");
  const mayPublish = can(app, "publisher") && workflow.status !== "archived";
  const state = store.getState();

  const publish = async () => {
    setBusy(true);
    setPublishError("");
    try {
      if (autosave && !(await autosave.flush())) {
        setPublishError("Save the draft first: it could not be saved.");
        return;
      }
      const published = await api.publish(workflow.id);
      store.getState().setWorkflow(published);
      store.getState().setIssues(published.issues ?? []);
      say(`Published version ${published.version}.`);
    } catch (failure) {
      if (failure instanceof ApiError && failure.issues.length) store.getState().setIssues(failure.issues);
      setPublishError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  const changeStatus = async (status: WorkflowStatus) => {
    if (status === "archived" && !window.confirm("Archive this workflow? Contacts in it leave, and it can no longer be published.")) return;
    setBusy(true);
    try {
      const changed = await api.setStatus(workflow.id, status);
      store.getState().setWorkflow(changed);
      say(`Workflow ${STATUS_LABEL[changed.status].toLowerCase()}.`);
      if (changed.status === "archived") window.location.reload();
    } catch (failure) {
      setPublishError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <header className="toolbar">
      <a href="/workflows/" className="back" aria-label="Back to workflows">
        ← Workflows
      </a>
      {renaming ? (
        <form
          className="rename"
          onSubmit={async (event) => {
            event.preventDefault();
            const name = String(new FormData(event.currentTarget).get("name") ?? "").trim();
            if (name) store.getState().setWorkflow(await api.renameWorkflow(workflow.id, name));
            setRenaming(false);
          }}
        >
          <input name="name" aria-label="Workflow name" defaultValue={workflow.name} autoFocus maxLength={200} />
          <button type="submit" className="small">
            Rename
          </button>
        </form>
      ) : (
        <h1 className="workflow-name">
          <button type="button" className="link" disabled={readOnly} onClick={() => setRenaming(true)} title="Rename">
            {workflow.name}
          </button>
        </h1>
      )}
      <span className={`pill ${workflow.status}`}>{STATUS_LABEL[workflow.status]}</span>
      <span className="muted">{workflow.version ? `v${workflow.version}` : "Never published"}</span>
      {!readOnly && <SaveIndicator />}
      <span className="spacer" />
      <div className="tool-group" role="group" aria-label="Edit">
        <button type="button" className="secondary" onClick={() => state.undo()} disabled={!canUndo || readOnly} aria-label="Undo" title="Undo (Ctrl+Z)">
          ↶
        </button>
        <button type="button" className="secondary" onClick={() => state.redo()} disabled={!canRedo || readOnly} aria-label="Redo" title="Redo (Ctrl+Shift+Z)">
          ↷
        </button>
        <button type="button" className="secondary" onClick={onTidy} disabled={readOnly} title="Auto-layout (Shift+L)">
          Tidy up
        </button>
        <button type="button" className="secondary" onClick={onFit} title="Fit view (Shift+F)">
          Fit
        </button>
        <button type="button" className="secondary" onClick={onVersions}>
          Versions
        </button>
        <button type="button" className="secondary" onClick={onHelp} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)">
          ?
        </button>
      </div>
      {mayPublish && (
        <div className="tool-group" role="group" aria-label="Publish">
          {workflow.status === "active" && (
            <button type="button" className="secondary" disabled={busy} onClick={() => void changeStatus("paused")}>
              Pause
            </button>
          )}
          {workflow.status === "paused" && (
            <button type="button" className="secondary" disabled={busy} onClick={() => void changeStatus("active")}>
              Resume
            </button>
          )}
          <button type="button" className="secondary danger-text" disabled={busy} onClick={() => void changeStatus("archived")}>
            Archive
          </button>
          <button
            type="button"
            className="primary"
            disabled={busy || errors.length > 0}
            aria-describedby="publish-blocked"
            onClick={() => void publish()}
          >
            Publish
          </button>
        </div>
      )}
      <p id="publish-blocked" className={errors.length || publishError ? "publish-blocked" : "sr-only"} role={publishError ? "alert" : undefined}>
        {publishError || (errors.length ? `Fix ${errors.length} problem${errors.length === 1 ? "" : "s"} to publish.` : "")}
      </p>
    </header>
  );
}

function ConflictBanner() {
  const { store, autosave } = useEditorContext();
  const saveState = useEditor((state) => state.saveState);
  const conflictDraft = useEditor((state) => state.conflictDraft);
  const conflictRevision = useEditor((state) => state.conflictRevision);
  if (saveState !== "conflict") return null;
  return (
    <div className="banner danger" role="alert">
      This draft was changed in another tab or by someone else{conflictRevision ? ` (revision ${conflictRevision})` : ""}. Your changes are not saved yet.
      <button
        type="button"
        onClick={() => {
          const state = store.getState();
          if (conflictDraft && state.workflow) {
            state.load({ ...state.workflow, draft: conflictDraft, issues: [] }, conflictRevision);
          } else {
            window.location.reload();
          }
        }}
      >
        Reload their version
      </button>
      <button type="button" className="secondary" onClick={() => void autosave?.overwrite()}>
        Overwrite with mine
      </button>
    </div>
  );
}
