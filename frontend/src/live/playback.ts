/**
 * A run played back on the canvas: a preview streaming over its WebSocket, or
 * a stored run opened from the runs list. Its own store, apart from the
 * document being edited (STYLE.md, "Frontend").
 *
 * Live messages carry the step's `seq`; a message whose seq skips one means
 * messages were dropped, so the client asks for a snapshot instead of
 * drawing a path with a hole in it.
 */

import { createStore } from "zustand/vanilla";

import type { JsonValue } from "../api/types";

export interface PlaybackStep {
  seq: number;
  node_id: string;
  node_type: string;
  status: string;
  handle: string;
  output: JsonValue;
  error: string;
  attempt?: number;
  started_at: string | null;
  finished_at: string | null;
}

export interface PlaybackState {
  runId: string | null;
  isPreview: boolean;
  runStatus: string;
  currentNode: string;
  runError: string;
  pausedBefore: string | null;
  steps: PlaybackStep[];
  connected: boolean;
  /** Snapshots asked for because of a gap (shown in tests and for debugging). */
  gaps: number;
}

export const EMPTY: PlaybackState = {
  runId: null,
  isPreview: false,
  runStatus: "",
  currentNode: "",
  runError: "",
  pausedBefore: null,
  steps: [],
  connected: false,
  gaps: 0,
};

type Message = Record<string, unknown>;

const str = (value: unknown, fallback = "") => (typeof value === "string" ? value : fallback);

function stepFrom(message: Message): PlaybackStep {
  return {
    seq: Number(message.seq),
    node_id: str(message.node_id),
    node_type: str(message.node_type),
    status: str(message.status),
    handle: str(message.handle),
    output: (message.output ?? null) as JsonValue,
    error: str(message.error),
    attempt: typeof message.attempt === "number" ? message.attempt : undefined,
    started_at: (message.started_at as string | null) ?? null,
    finished_at: (message.finished_at as string | null) ?? null,
  };
}

/** The whole stored run, as the server sends it on connect or on request. */
export function applySnapshot(state: PlaybackState, snapshot: Message): PlaybackState {
  const steps = Array.isArray(snapshot.steps) ? (snapshot.steps as Message[]).map(stepFrom) : [];
  return {
    ...state,
    runId: str(snapshot.run, state.runId ?? ""),
    runStatus: str(snapshot.run_status),
    currentNode: str(snapshot.current_node),
    runError: str(snapshot.run_error),
    pausedBefore: (snapshot.paused_before as string | null) ?? null,
    steps: steps.sort((a, b) => a.seq - b.seq),
  };
}

/** Live events in order; `gap` says a snapshot is needed (and the events were not applied). */
export function applyEvents(state: PlaybackState, events: Message[]): { state: PlaybackState; gap: boolean } {
  let next = state;
  for (const event of events) {
    if (event.run !== undefined && next.runId && event.run !== next.runId) continue;
    if (event.kind === "step") {
      const step = stepFrom(event);
      const last = next.steps.length ? (next.steps[next.steps.length - 1] as PlaybackStep).seq : 0;
      if (step.seq > last + 1) return { state: { ...next, gaps: next.gaps + 1 }, gap: true };
      const steps = step.seq <= last ? next.steps.map((known) => (known.seq === step.seq ? step : known)) : [...next.steps, step];
      next = { ...next, steps };
    }
    next = {
      ...next,
      runStatus: str(event.run_status, next.runStatus),
      currentNode: str(event.current_node, next.currentNode),
      runError: str(event.run_error, next.runError),
      pausedBefore: "paused_before" in event ? ((event.paused_before as string | null) ?? null) : next.pausedBefore,
    };
  }
  return { state: next, gap: false };
}

/** What the canvas lights up: the path taken, where the run is, where it failed. */
export function highlightOf(state: PlaybackState): { path: string[]; current: string | null; failed: string | null } | null {
  if (!state.runId) return null;
  const path = state.steps.map((step) => step.node_id);
  const active = state.runStatus === "running" || state.runStatus === "waiting";
  return {
    path,
    current: active ? state.pausedBefore || state.currentNode || null : null,
    failed: state.runStatus === "failed" ? state.currentNode || null : null,
  };
}

export function createPlaybackStore() {
  return createStore<PlaybackState>()(() => ({ ...EMPTY }));
}

export type PlaybackStore = ReturnType<typeof createPlaybackStore>;
