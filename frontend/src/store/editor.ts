/**
 * The editor's document state: nodes, edges and settings, with undo/redo,
 * clipboard and the save state. Plain zustand (vanilla) so tests drive it
 * without a browser; components subscribe to slices through selectors.
 */

import {
  addEdge,
  applyEdgeChanges,
  applyNodeChanges,
  type Connection,
  type EdgeChange,
  type NodeChange,
} from "@xyflow/react";
import { createStore } from "zustand/vanilla";

import type { Graph, Issue, JsonObject, Results, Workflow } from "../api/types";
import { defaultConfig, type Catalogue } from "../graph/catalogue";
import {
  type CairnEdge,
  type CairnNode,
  cloneSelection,
  freshEdgeId,
  freshNodeId,
  fromCanvas,
  fromCanvasEdge,
  fromCanvasNode,
  toCanvas,
  toCanvasEdge,
  toCanvasNode,
} from "../graph/convert";

export type SaveState = "saved" | "dirty" | "saving" | "error" | "conflict" | "offline";

interface Snapshot {
  nodes: CairnNode[];
  edges: CairnEdge[];
  settings: JsonObject;
}

export const HISTORY_LIMIT = 100;
export const CLIPBOARD_KEY = "cairn:clipboard";

export interface Clipboard {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface EditorState extends Snapshot {
  workflow: Workflow | null;
  revision: number | null;
  issues: Issue[];
  /** Bumped on every change of the document; autosave watches it. */
  docVersion: number;
  savedVersion: number;
  saveState: SaveState;
  saveMessage: string;
  /** The server's draft and revision when a save met a newer one (412). */
  conflictDraft: Graph | null;
  conflictRevision: number | null;
  results: Results | null;
  past: Snapshot[];
  future: Snapshot[];
  dragging: boolean;
  /** Nodes lit up by a run or preview: the path taken and where it is now. */
  highlight: { path: string[]; current: string | null; failed: string | null } | null;
  /** A node (and field) the problems list asked to show. */
  focus: { nodeId: string; field: string | null; at: number } | null;

  load(workflow: Workflow, revision: number | null): void;
  replaceDocument(graph: Graph): void;
  onNodesChange(changes: NodeChange<CairnNode>[]): void;
  onEdgesChange(changes: EdgeChange<CairnEdge>[]): void;
  onConnect(connection: Connection): void;
  addNode(nodeType: string, position: { x: number; y: number }): string | null;
  updateConfig(nodeId: string, config: JsonObject): void;
  updateNodeData(nodeId: string, patch: { label?: string; open_handles?: string[] }): void;
  updateSettings(settings: JsonObject): void;
  deleteSelected(): void;
  duplicateSelected(): void;
  copySelected(): number;
  paste(): number;
  selectAll(): void;
  selectNode(nodeId: string | null): void;
  applyPositions(positions: Map<string, { x: number; y: number }>): void;
  undo(): void;
  redo(): void;
  setSaveState(state: SaveState, message?: string): void;
  saved(version: number, revision: number | null, issues: Issue[]): void;
  setConflict(draft: Graph | null, revision: number | null): void;
  setIssues(issues: Issue[]): void;
  setResults(results: Results | null): void;
  setWorkflow(workflow: Workflow): void;
  setHighlight(highlight: EditorState["highlight"]): void;
  requestFocus(nodeId: string, field: string | null): void;
  graph(): Graph;
}

const snapshot = (state: Snapshot): Snapshot => ({
  nodes: state.nodes,
  edges: state.edges,
  settings: state.settings,
});

/** Changes that only reflect what the canvas measured or selected: not an edit. */
const isViewOnly = (change: NodeChange<CairnNode> | EdgeChange<CairnEdge>) =>
  change.type === "select" || change.type === "dimensions";

export function createEditorStore(catalogue: Catalogue, clipboard: Clipboard | null = null) {
  return createStore<EditorState>()((set, get) => {
    /** Remember the document before an edit, for undo. */
    const checkpoint = () => {
      const state = get();
      const past = [...state.past, snapshot(state)].slice(-HISTORY_LIMIT);
      set({ past, future: [] });
    };
    // A conflict stays until the user chooses (reload or overwrite): edits never save over it.
    const edited = (patch: Partial<EditorState>) =>
      set((state) => ({
        ...patch,
        docVersion: state.docVersion + 1,
        saveState: state.saveState === "conflict" ? "conflict" : "dirty",
      }));
    const selectedIds = () => new Set(get().nodes.filter((node) => node.selected).map((node) => node.id));
    /** Add re-keyed copies of these nodes (and the edges between them), selected; one undo step. */
    const insertCopies = (nodes: Graph["nodes"], edges: Graph["edges"], offset: { x: number; y: number }) => {
      const state = get();
      const copies = cloneSelection(
        nodes,
        edges,
        new Set(state.nodes.map((node) => node.id)),
        new Set(state.edges.map((edge) => edge.id)),
        offset,
      );
      checkpoint();
      edited({
        nodes: [
          ...state.nodes.map((node) => ({ ...node, selected: false })),
          ...copies.nodes.map((node) => ({ ...toCanvasNode(node), selected: true })),
        ],
        edges: [...state.edges, ...copies.edges.map(toCanvasEdge)],
      });
      return copies.nodes.length;
    };

    return {
      workflow: null,
      revision: null,
      issues: [],
      nodes: [],
      edges: [],
      settings: {},
      docVersion: 0,
      savedVersion: 0,
      saveState: "saved",
      saveMessage: "",
      conflictDraft: null,
      conflictRevision: null,
      results: null,
      past: [],
      future: [],
      dragging: false,
      highlight: null,
      focus: null,

      load(workflow, revision) {
        const canvas = toCanvas(workflow.draft);
        set({
          workflow,
          revision,
          issues: workflow.issues ?? [],
          ...canvas,
          past: [],
          future: [],
          docVersion: 0,
          savedVersion: 0,
          saveState: "saved",
          saveMessage: "",
          conflictDraft: null,
          conflictRevision: null,
        });
      },

      replaceDocument(graph) {
        checkpoint();
        edited(toCanvas(graph));
      },

      onNodesChange(changes) {
        const edits = changes.filter((change) => !isViewOnly(change));
        if (edits.length === 0) {
          set((state) => ({ nodes: applyNodeChanges(changes, state.nodes) }));
          return;
        }
        const drag = edits.find((change) => change.type === "position");
        const dragging = !!(drag && drag.type === "position" && drag.dragging);
        const state = get();
        if (dragging && !state.dragging) checkpoint();
        if (!drag && edits.some((change) => change.type === "remove" || change.type === "add" || change.type === "replace")) {
          checkpoint();
        }
        let nodes = applyNodeChanges(changes, state.nodes);
        let edges = state.edges;
        const removed = new Set(edits.filter((change) => change.type === "remove").map((change) => change.id));
        if (removed.size) {
          edges = edges.filter((edge) => !removed.has(edge.source) && !removed.has(edge.target));
          nodes = nodes.filter((node) => !removed.has(node.id));
        }
        if (drag) {
          // Moving is one edit from the first frame to the drop.
          set({ nodes, edges, dragging });
          if (!dragging) edited({});
          return;
        }
        edited({ nodes, edges });
      },

      onEdgesChange(changes) {
        const edits = changes.filter((change) => !isViewOnly(change));
        if (edits.length) checkpoint();
        const edges = applyEdgeChanges(changes, get().edges);
        if (edits.length) edited({ edges });
        else set({ edges });
      },

      onConnect(connection) {
        const state = get();
        if (connection.source === connection.target) return;
        // One output handle leads to one node: a new connection replaces the old one.
        const kept = state.edges.filter(
          (edge) => !(edge.source === connection.source && (edge.sourceHandle ?? null) === (connection.sourceHandle ?? null)),
        );
        const id = freshEdgeId(
          connection.source,
          connection.sourceHandle,
          connection.target,
          new Set(kept.map((edge) => edge.id)),
        );
        checkpoint();
        edited({ edges: addEdge({ ...connection, id }, kept) });
      },

      addNode(nodeType, position) {
        const info = catalogue.get(nodeType);
        if (!info) return null;
        const state = get();
        const id = freshNodeId(nodeType, new Set(state.nodes.map((node) => node.id)));
        checkpoint();
        const node = toCanvasNode({ id, type: nodeType, position, data: { config: defaultConfig(info) } });
        node.selected = true;
        edited({ nodes: [...state.nodes.map((other) => ({ ...other, selected: false })), node] });
        return id;
      },

      updateConfig(nodeId, config) {
        checkpoint();
        edited({
          nodes: get().nodes.map((node) => (node.id === nodeId ? { ...node, data: { ...node.data, config } } : node)),
        });
      },

      updateNodeData(nodeId, patch) {
        checkpoint();
        edited({
          nodes: get().nodes.map((node) => (node.id === nodeId ? { ...node, data: { ...node.data, ...patch } } : node)),
        });
      },

      updateSettings(settings) {
        checkpoint();
        edited({ settings });
      },

      deleteSelected() {
        const ids = selectedIds();
        const state = get();
        const selectedEdges = new Set(state.edges.filter((edge) => edge.selected).map((edge) => edge.id));
        if (!ids.size && !selectedEdges.size) return;
        checkpoint();
        edited({
          nodes: state.nodes.filter((node) => !ids.has(node.id)),
          edges: state.edges.filter(
            (edge) => !selectedEdges.has(edge.id) && !ids.has(edge.source) && !ids.has(edge.target),
          ),
        });
      },

      duplicateSelected() {
        const state = get();
        const ids = selectedIds();
        if (!ids.size) return;
        const chosen = state.nodes.filter((node) => ids.has(node.id)).map(fromCanvasNode);
        const inner = state.edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target)).map(fromCanvasEdge);
        insertCopies(chosen, inner, { x: 40, y: 40 });
      },

      copySelected() {
        const state = get();
        const ids = selectedIds();
        if (!ids.size || !clipboard) return 0;
        const payload: Pick<Graph, "nodes" | "edges"> = {
          nodes: state.nodes.filter((node) => ids.has(node.id)).map(fromCanvasNode),
          edges: state.edges.filter((edge) => ids.has(edge.source) && ids.has(edge.target)).map(fromCanvasEdge),
        };
        clipboard.setItem(CLIPBOARD_KEY, JSON.stringify({ cairn: 1, ...payload }));
        return payload.nodes.length;
      },

      paste() {
        if (!clipboard) return 0;
        let payload: { cairn?: number; nodes?: Graph["nodes"]; edges?: Graph["edges"] };
        try {
          payload = JSON.parse(clipboard.getItem(CLIPBOARD_KEY) ?? "null") ?? {};
        } catch {
          return 0;
        }
        if (payload.cairn !== 1 || !Array.isArray(payload.nodes)) return 0;
        const known = payload.nodes.filter((node) => catalogue.has(node.type));
        if (!known.length) return 0;
        return insertCopies(known, payload.edges ?? [], { x: 60, y: 60 });
      },

      selectAll() {
        set((state) => ({ nodes: state.nodes.map((node) => ({ ...node, selected: true })) }));
      },

      selectNode(nodeId) {
        set((state) => ({
          nodes: state.nodes.map((node) =>
            node.selected === (node.id === nodeId) ? node : { ...node, selected: node.id === nodeId },
          ),
          edges: state.edges.map((edge) => (edge.selected ? { ...edge, selected: false } : edge)),
        }));
      },

      applyPositions(positions) {
        checkpoint();
        edited({
          nodes: get().nodes.map((node) => {
            const position = positions.get(node.id);
            return position ? { ...node, position } : node;
          }),
        });
      },

      undo() {
        const state = get();
        const previous = state.past[state.past.length - 1];
        if (!previous) return;
        set({ past: state.past.slice(0, -1), future: [snapshot(state), ...state.future] });
        edited(previous);
      },

      redo() {
        const state = get();
        const next = state.future[0];
        if (!next) return;
        set({ past: [...state.past, snapshot(state)], future: state.future.slice(1) });
        edited(next);
      },

      setSaveState(saveState, saveMessage = "") {
        set({ saveState, saveMessage });
      },

      saved(version, revision, issues) {
        const state = get();
        const upToDate = state.docVersion === version;
        set({
          savedVersion: version,
          revision,
          issues,
          saveState: upToDate ? "saved" : "dirty",
          saveMessage: "",
          conflictDraft: null,
          conflictRevision: null,
        });
      },

      setConflict(draft, revision) {
        set({ saveState: "conflict", conflictDraft: draft, conflictRevision: revision, saveMessage: "" });
      },

      setIssues(issues) {
        set({ issues });
      },

      setResults(results) {
        set({ results });
      },

      setWorkflow(workflow) {
        set({ workflow });
      },

      setHighlight(highlight) {
        set({ highlight });
      },

      requestFocus(nodeId, field) {
        get().selectNode(nodeId);
        set({ focus: { nodeId, field, at: Date.now() } });
      },

      graph() {
        const state = get();
        return fromCanvas(state.nodes, state.edges, state.settings);
      },
    };
  });
}

export type EditorStore = ReturnType<typeof createEditorStore>;
