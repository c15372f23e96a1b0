import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { ApiError, NetworkError, type Answer, type DraftSaved } from "../api/client";
import type { Graph } from "../api/types";
import { catalogue } from "../test/catalogue";
import { Autosave, backupKey, readBackup } from "./autosave";
import { createEditorStore } from "./editor";
import { workflowFactory } from "../test/factories";

class MemoryStorage {
  items = new Map<string, string>();
  getItem = (key: string) => this.items.get(key) ?? null;
  setItem = (key: string, value: string) => void this.items.set(key, value);
  removeItem = (key: string) => void this.items.delete(key);
}

type Call = { graph: Graph; revision: number | null };

/** A stand-in for the server's PUT …/draft that answers what the test queues. */
function server(answers: ((call: Call) => Answer<DraftSaved>)[]) {
  const calls: Call[] = [];
  const save = async (graph: Graph, revision: number | null) => {
    const call = { graph, revision };
    calls.push(call);
    const answer = answers.shift();
    if (!answer) throw new Error("unexpected save");
    return answer(call);
  };
  return { calls, save };
}

const ok = (revision: number) => (call: Call): Answer<DraftSaved> => ({ data: { draft: call.graph, issues: [], revision }, etag: `"${revision}"` });

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

function setup(answers: ((call: Call) => Answer<DraftSaved>)[]) {
  const store = createEditorStore(catalogue);
  store.getState().load(workflowFactory(), 1);
  const storage = new MemoryStorage();
  const api = server(answers);
  const autosave = new Autosave(store, "wf-1", api.save, storage, 800);
  return { store, storage, api, autosave };
}

describe("autosave", () => {
  it("saves once after a burst of edits, with the revision it read, and forgets the backup", async () => {
    const { store, storage, api } = setup([ok(2)]);
    store.getState().addNode("trigger.event", { x: 0, y: 0 });
    store.getState().updateConfig("trigger_event", { event: "signup" });
    expect(readBackup(storage, "wf-1")?.graph.nodes).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(799);
    expect(api.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(10);
    expect(api.calls).toHaveLength(1);
    expect(api.calls[0]?.revision).toBe(1);
    expect(store.getState().saveState).toBe("saved");
    expect(store.getState().revision).toBe(2);
    expect(storage.getItem(backupKey("wf-1"))).toBeNull();
  });

  it("on 412 stops saving and offers the other draft; overwrite saves over it", async () => {
    const theirs: Graph = { nodes: [], edges: [], settings: { reenrollment: "always" } };
    const { store, api, autosave } = setup([
      () => {
        throw new ApiError(412, { detail: "changed elsewhere", revision: 5, draft: theirs }, "changed elsewhere");
      },
      ok(6),
    ]);
    store.getState().addNode("trigger.event", { x: 0, y: 0 });
    await vi.advanceTimersByTimeAsync(900);
    expect(store.getState().saveState).toBe("conflict");
    expect(store.getState().conflictDraft).toEqual(theirs);
    store.getState().updateConfig("trigger_event", { event: "x" });
    await vi.advanceTimersByTimeAsync(5000);
    expect(api.calls).toHaveLength(1); // no silent save over theirs
    await autosave.overwrite();
    expect(api.calls[1]?.revision).toBe(5);
    expect(store.getState().saveState).toBe("saved");
  });

  it("keeps the work and shows the reason when the server refuses the graph", async () => {
    const { store, storage } = setup([
      () => {
        throw new ApiError(400, { detail: "nodes[0].type: unknown node type", issues: [{ message: "unknown", code: "x", node: "trigger_event", edge: null, field: "type", severity: "error" }] }, "nodes[0].type: unknown node type");
      },
    ]);
    store.getState().addNode("trigger.event", { x: 0, y: 0 });
    await vi.advanceTimersByTimeAsync(900);
    expect(store.getState().saveState).toBe("error");
    expect(store.getState().saveMessage).toContain("unknown node type");
    expect(store.getState().issues[0]?.node).toBe("trigger_event");
    expect(store.getState().nodes).toHaveLength(1);
    expect(readBackup(storage, "wf-1")?.graph.nodes).toHaveLength(1);
  });

  it("retries with backoff while the network is down, then saves", async () => {
    const down = () => {
      throw new NetworkError("Failed to fetch");
    };
    const { store, api } = setup([down, down, ok(2)]);
    store.getState().addNode("trigger.event", { x: 0, y: 0 });
    await vi.advanceTimersByTimeAsync(900);
    expect(store.getState().saveState).toBe("offline");
    expect(store.getState().saveMessage).toMatch(/Retrying in 1 s/);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.calls).toHaveLength(2);
    expect(store.getState().saveMessage).toMatch(/Retrying in 2 s/);
    await vi.advanceTimersByTimeAsync(2000);
    expect(api.calls).toHaveLength(3);
    expect(store.getState().saveState).toBe("saved");
  });

  it("an edit made while a save is in flight is saved next", async () => {
    let release: () => void = () => undefined;
    const slow = (call: Call) => ({ data: { draft: call.graph, issues: [], revision: 2 }, etag: null });
    const store = createEditorStore(catalogue);
    store.getState().load(workflowFactory(), 1);
    const calls: Call[] = [];
    const save = (graph: Graph, revision: number | null) =>
      new Promise<Answer<DraftSaved>>((resolve) => {
        calls.push({ graph, revision });
        release = () => resolve(slow({ graph, revision }));
      });
    new Autosave(store, "wf-1", save, null, 800);
    store.getState().addNode("trigger.event", { x: 0, y: 0 });
    await vi.advanceTimersByTimeAsync(900);
    store.getState().updateConfig("trigger_event", { event: "late" });
    release();
    await vi.advanceTimersByTimeAsync(900);
    expect(calls).toHaveLength(2);
    expect(calls[1]?.graph.nodes[0]?.data.config).toEqual({ event: "late" });
    expect(calls[1]?.revision).toBe(2);
  });
});
