import { describe, expect, it } from "vitest";

import type { Graph } from "../api/types";
import { cloneSelection, freshNodeId, fromCanvas, toCanvas } from "./convert";

const graph: Graph = {
  nodes: [
    { id: "start", type: "trigger.event", position: { x: 0, y: 0 }, data: { label: "Signed up", config: { event: "signup" } } },
    { id: "used", type: "condition.if", position: { x: 10.4, y: 120.6 }, data: { config: { match: "all", rules: [] }, open_handles: ["no"], note: "kept" } },
  ],
  edges: [{ id: "e1", source: "start", target: "used" }],
  settings: { reenrollment: "never" },
};

describe("graph conversions", () => {
  it("round-trips the stored graph through the canvas shape, keeping unknown data", () => {
    const canvas = toCanvas(graph);
    expect(canvas.nodes.every((node) => node.type === "cairn")).toBe(true);
    expect(canvas.nodes[1]?.data.nodeType).toBe("condition.if");
    const back = fromCanvas(canvas.nodes, canvas.edges, canvas.settings);
    expect(back.nodes[1]).toEqual({
      id: "used",
      type: "condition.if",
      position: { x: 10, y: 121 },
      data: { config: { match: "all", rules: [] }, open_handles: ["no"], note: "kept" },
    });
    expect(back.nodes[0]?.data.label).toBe("Signed up");
    expect(back.edges).toEqual(graph.edges);
    expect(back.settings).toEqual(graph.settings);
  });

  it("gives a node without config an empty one, and drops empty labels and open handles", () => {
    const canvas = toCanvas({ nodes: [{ id: "x", type: "flow.end", position: { x: 0, y: 0 }, data: {} }], edges: [], settings: {} });
    canvas.nodes[0]!.data.label = "";
    canvas.nodes[0]!.data.open_handles = [];
    expect(fromCanvas(canvas.nodes, canvas.edges, {}).nodes[0]?.data).toEqual({ config: {} });
  });

  it("keeps source handles of branching edges", () => {
    const canvas = toCanvas({ ...graph, edges: [{ id: "e2", source: "used", sourceHandle: "yes", target: "start" }] });
    expect(fromCanvas(canvas.nodes, canvas.edges, {}).edges[0]).toEqual({ id: "e2", source: "used", sourceHandle: "yes", target: "start" });
  });

  it("makes short readable ids that are not taken", () => {
    expect(freshNodeId("action.email", new Set())).toBe("action_email");
    expect(freshNodeId("action.email", new Set(["action_email", "action_email_2"]))).toBe("action_email_3");
  });

  it("clones a selection with new ids, edges re-pointed, dangling edges dropped", () => {
    const copy = cloneSelection(graph.nodes, [...graph.edges, { id: "out", source: "used", target: "elsewhere" }], new Set(["start", "used"]), new Set(["e1"]), { x: 40, y: 40 });
    expect(copy.nodes.map((node) => node.id)).toEqual(["start_2", "used_2"]);
    expect(copy.nodes[0]?.position).toEqual({ x: 40, y: 40 });
    expect(copy.edges).toHaveLength(1);
    expect(copy.edges[0]).toMatchObject({ source: "start_2", target: "used_2" });
    expect(copy.edges[0]?.id).not.toBe("e1");
    // the originals are untouched
    expect(graph.nodes[0]?.id).toBe("start");
  });
});
