/**
 * Draft autosave: debounced saves with If-Match, retries when the network
 * fails, a conflict state on 412, and a copy of unsaved work in the browser
 * (localStorage) so nothing is lost when the server refuses or is gone.
 */

import { ApiError, type Answer, type DraftSaved } from "../api/client";
import type { Graph } from "../api/types";
import type { EditorStore } from "./editor";

export const AUTOSAVE_DELAY_MS = 800;
const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000];

export interface Storage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export type SaveDraft = (graph: Graph, revision: number | null) => Promise<Answer<DraftSaved>>;

export interface Backup {
  graph: Graph;
  revision: number | null;
  at: string;
}

export const backupKey = (workflowId: string) => `cairn:draft:${workflowId}`;

export function readBackup(storage: Storage, workflowId: string): Backup | null {
  try {
    const backup = JSON.parse(storage.getItem(backupKey(workflowId)) ?? "null") as Backup | null;
    return backup && Array.isArray(backup.graph?.nodes) ? backup : null;
  } catch {
    return null;
  }
}

export function revisionFrom(answer: { etag: string | null; data: { revision?: number } }): number | null {
  if (typeof answer.data.revision === "number") return answer.data.revision;
  const match = answer.etag?.match(/"?(\d+)"?/);
  return match ? Number(match[1]) : null;
}

export class Autosave {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private retries = 0;
  private saving = false;
  private unsubscribe: () => void;

  constructor(
    private readonly store: EditorStore,
    private readonly workflowId: string,
    private readonly saveDraft: SaveDraft,
    private readonly storage: Storage | null,
    private readonly delayMs = AUTOSAVE_DELAY_MS,
  ) {
    this.unsubscribe = store.subscribe((state, previous) => {
      if (state.docVersion !== previous.docVersion && state.docVersion > state.savedVersion) {
        this.keepBackup();
        if (state.saveState !== "conflict") this.schedule(this.delayMs);
      }
    });
  }

  stop(): void {
    this.unsubscribe();
    if (this.timer) clearTimeout(this.timer);
  }

  /** Save now (the "Save" button, Ctrl+S, or before publishing). Resolves when saved. */
  async flush(): Promise<boolean> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const state = this.store.getState();
    if (state.docVersion === state.savedVersion && state.saveState === "saved") return true;
    return this.save();
  }

  /** After a conflict: write ours over the newer draft. */
  async overwrite(): Promise<boolean> {
    const state = this.store.getState();
    this.store.setState({ revision: state.conflictRevision, saveState: "dirty", conflictDraft: null });
    return this.save();
  }

  private schedule(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save();
    }, delay);
  }

  private keepBackup(): void {
    if (!this.storage) return;
    const state = this.store.getState();
    const backup: Backup = { graph: state.graph(), revision: state.revision, at: new Date().toISOString() };
    try {
      this.storage.setItem(backupKey(this.workflowId), JSON.stringify(backup));
    } catch {
      // A full or disabled localStorage must never stop editing.
    }
  }

  private async save(): Promise<boolean> {
    if (this.saving) {
      this.schedule(this.delayMs);
      return false;
    }
    const state = this.store.getState();
    if (state.saveState === "conflict") return false;
    const version = state.docVersion;
    this.saving = true;
    state.setSaveState("saving");
    try {
      const answer = await this.saveDraft(state.graph(), state.revision);
      this.retries = 0;
      this.store.getState().saved(version, revisionFrom(answer), answer.data.issues ?? []);
      if (this.store.getState().docVersion === version) this.storage?.removeItem(backupKey(this.workflowId));
      else this.schedule(this.delayMs);
      return true;
    } catch (error) {
      this.failed(error);
      return false;
    } finally {
      this.saving = false;
    }
  }

  private failed(error: unknown): void {
    const state = this.store.getState();
    if (error instanceof ApiError && (error.status === 412 || error.status === 409)) {
      const draft = (error.body.draft as Graph | undefined) ?? null;
      const revision = typeof error.body.revision === "number" ? error.body.revision : null;
      state.setConflict(draft, revision);
      return;
    }
    if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
      // The server refused this graph: keep it here (and in the backup), show why.
      if (error.issues.length) state.setIssues(error.issues);
      state.setSaveState("error", error.message);
      return;
    }
    const delay = RETRY_DELAYS_MS[Math.min(this.retries, RETRY_DELAYS_MS.length - 1)] ?? 30000;
    this.retries += 1;
    state.setSaveState("offline", `Not saved: ${error instanceof Error ? error.message : "network error"}. Retrying in ${Math.round(delay / 1000)} s.`);
    this.schedule(delay);
  }
}
