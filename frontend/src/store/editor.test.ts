import { describe, expect, it } from "vitest";

import { catalogue } from "../test/catalogue";
import { workflowFactory } from "../test/factories";
import { CLIPBOARD_KEY, createEditorStore, HISTORY_LIMIT } from "./editor";

class MemoryStorage {
  items = new Map<string, string>();
  getItem = (key: string) => this.items.get(key) ?? null;
  setItem = (key: string, value: string) => void this.items.set(key, value);
  removeItem = (key: string) => void this.items.delete(key);
}

function editor(clipboard = new MemoryStorage()) {
  const store = createEditorStore(catalogue, clipboard);
  store.getState().load(workflowFactory(), 1);
  return store;
}

describe("editor store", () => {
  it("adds a node with its schema's defaults, selected, with a readable id", () => {
    const store = editor();
    const id = store.getState().addNode("wait.delay", { x: 10, y: 20 });
    const node = store.getState().nodes[0];
    expect(id).toBe("wait_delay");
    expect(node?.data.config).toEqual({ amount: 1, unit: "days" });
    expect(node?.selected).toBe(true);
    expect(store.getState().saveState).toBe("dirty");
    expect(store.getState().addNode("no.such.type", { x: 0, y: 0 })).toBeNull();
  });

  it("undoes and redoes each edit", () => {
    const store = editor();
    const s = () => store.getState();
    s().addNode("trigger.event", { x: 0, y: 0 });
    s().addNode("action.email", { x: 0, y: 100 });
    s().updateConfig("action_email", { subject: "Hi", body: "Hello" });
    expect(s().nodes).toHaveLength(2);
    s().undo();
    expect(s().nodes.find((n) => n.id === "action_email")?.data.config).not.toHaveProperty("subject");
    s().undo();
    expect(s().nodes.map((n) => n.id)).toEqual(["trigger_event"]);
    s().redo();
    s().redo();
    expect(s().nodes.find((n) => n.id === "action_email")?.data.config).toEqual({ subject: "Hi", body: "Hello" });
    s().redo(); // nothing more to redo
    expect(s().nodes).toHaveLength(2);
  });

  it("a new edit after undo drops the redo stack; history is bounded", () => {
    const store = editor();
    const s = () => store.getState();
    s().addNode("trigger.event", { x: 0, y: 0 });
    s().undo();
    s().addNode("wait.delay", { x: 0, y: 0 });
    expect(s().future).toHaveLength(0);
    for (let i = 0; i < HISTORY_LIMIT + 20; i += 1) s().updateSettings({ reenrollment: i % 2 ? "always" : "never" });
    expect(s().past.length).toBe(HISTORY_LIMIT);
  });

  it("counts a whole drag as one edit", () => {
    const store = editor();
    const s = () => store.getState();
    s().addNode("trigger.event", { x: 0, y: 0 });
    const before = s().past.length;
    for (const x of [5, 10, 15]) s().onNodesChange([{ type: "position", id: "trigger_event", position: { x, y: 0 }, dragging: true }]);
    s().onNodesChange([{ type: "position", id: "trigger_event", position: { x: 20, y: 0 }, dragging: false }]);
    expect(s().past.length).toBe(before + 1);
    expect(s().nodes[0]?.position).toEqual({ x: 20, y: 0 });
    s().undo();
    expect(s().nodes[0]?.position).toEqual({ x: 0, y: 0 });
  });

  it("selection and measuring are not edits", () => {
    const store = editor();
    const s = () => store.getState();
    s().addNode("trigger.event", { x: 0, y: 0 });
    const version = s().docVersion;
    s().onNodesChange([{ type: "select", id: "trigger_event", selected: false }]);
    s().onNodesChange([{ type: "dimensions", id: "trigger_event", dimensions: { width: 240, height: 90 } }]);
    expect(s().docVersion).toBe(version);
  });

  it("a new connection from a handle replaces the old one; deleting a node drops its edges", () => {
    const store = editor();
    const s = () => store.getState();
    s().addNode("condition.if", { x: 0, y: 0 });
    s().addNode("action.email", { x: 0, y: 0 });
    s().addNode("flow.end", { x: 0, y: 0 });
    s().onConnect({ source: "condition_if", sourceHandle: "yes", target: "action_email", targetHandle: null });
    s().onConnect({ source: "condition_if", sourceHandle: "no", target: "flow_end", targetHandle: null });
    s().onConnect({ source: "condition_if", sourceHandle: "yes", target: "flow_end", targetHandle: null });
    expect(s().edges.map((e) => [e.sourceHandle, e.target])).toEqual([
      ["no", "flow_end"],
      ["yes", "flow_end"],
    ]);
    s().onConnect({ source: "flow_end", sourceHandle: null, target: "flow_end", targetHandle: null });
    expect(s().edges).toHaveLength(2);
    s().selectNode("flow_end");
    s().deleteSelected();
    expect(s().edges).toHaveLength(0);
    expect(s().nodes.map((n) => n.id)).toEqual(["condition_if", "action_email"]);
  });

  it("duplicates the selection with the edges between the selected nodes", () => {
    const store = editor();
    const s = () => store.getState();
    s().addNode("trigger.event", { x: 0, y: 0 });
    s().addNode("wait.delay", { x: 0, y: 100 });
    s().onConnect({ source: "trigger_event", sourceHandle: "out", target: "wait_delay", targetHandle: null });
    s().selectAll();
    s().duplicateSelected();
    expect(s().nodes.map((n) => n.id)).toEqual(["trigger_event", "wait_delay", "trigger_event_2", "wait_delay_2"]);
    expect(s().edges.map((e) => `${e.source}->${e.target}`)).toEqual(["trigger_event->wait_delay", "trigger_event_2->wait_delay_2"]);
    expect(s().nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(["trigger_event_2", "wait_delay_2"]);
  });

  it("copies in one workflow and pastes into another through the shared clipboard", () => {
    const clipboard = new MemoryStorage();
    const first = editor(clipboard);
    first.getState().addNode("action.email", { x: 0, y: 0 });
    first.getState().updateConfig("action_email", { subject: "Hi", body: "There" });
    expect(first.getState().copySelected()).toBe(1);

    const second = editor(clipboard);
    second.getState().addNode("action.email", { x: 0, y: 0 });
    expect(second.getState().paste()).toBe(1);
    const pasted = second.getState().nodes.find((n) => n.id === "action_email_2");
    expect(pasted?.data.config).toEqual({ subject: "Hi", body: "There" });
  });

  it("ignores a clipboard that is not Cairn's, or has unknown node types", () => {
    const clipboard = new MemoryStorage();
    const store = editor(clipboard);
    clipboard.setItem(CLIPBOARD_KEY, "not json");
    expect(store.getState().paste()).toBe(0);
    clipboard.setItem(CLIPBOARD_KEY, JSON.stringify({ cairn: 1, nodes: [{ id: "x", type: "evil.node", position: { x: 0, y: 0 }, data: {} }], edges: [] }));
    expect(store.getState().paste()).toBe(0);
    expect(store.getState().nodes).toHaveLength(0);
  });

  it("exports the graph in the stored shape", () => {
    const store = editor();
    store.getState().addNode("flow.end", { x: 1.2, y: 2.7 });
    expect(store.getState().graph()).toEqual({
      nodes: [{ id: "flow_end", type: "flow.end", position: { x: 1, y: 3 }, data: { config: {} } }],
      edges: [],
      settings: {},
    });
  });

  it("marks saved only when nothing changed during the save", () => {
    const store = editor();
    const s = () => store.getState();
    s().addNode("trigger.event", { x: 0, y: 0 });
    const version = s().docVersion;
    s().updateConfig("trigger_event", { event: "signup" });
    s().saved(version, 2, []);
    expect(s().saveState).toBe("dirty");
    s().saved(s().docVersion, 3, []);
    expect(s().saveState).toBe("saved");
    expect(s().revision).toBe(3);
  });
});
