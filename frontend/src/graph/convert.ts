/**
 * The stored graph (docs/api.md) ⇄ React Flow's nodes and edges.
 *
 * Every canvas node uses the one React Flow node type "cairn" (so `nodeTypes`
 * is defined once); the workflow's node type key travels in `data.nodeType`.
 * Anything else a stored node carries in `data` survives the round trip.
 */

import type { Edge, Node } from "@xyflow/react";

import type { Graph, GraphEdge, GraphNode, JsonObject } from "../api/types";

export const CANVAS_NODE_TYPE = "cairn";

export type CairnNodeData = {
  nodeType: string;
  label?: string;
  config: JsonObject;
  open_handles?: string[];
  [key: string]: unknown;
};

export type CairnNode = Node<CairnNodeData, typeof CANVAS_NODE_TYPE>;
export type CairnEdge = Edge;

export function toCanvasNode(node: GraphNode): CairnNode {
  const { config, ...rest } = node.data ?? {};
  return {
    id: node.id,
    type: CANVAS_NODE_TYPE,
    position: { x: node.position?.x ?? 0, y: node.position?.y ?? 0 },
    data: { ...rest, nodeType: node.type, config: (config as JsonObject | undefined) ?? {} },
  };
}

export function toCanvasEdge(edge: GraphEdge): CairnEdge {
  const canvas: CairnEdge = { id: edge.id, source: edge.source, target: edge.target };
  if (edge.sourceHandle) canvas.sourceHandle = edge.sourceHandle;
  if (edge.targetHandle) canvas.targetHandle = edge.targetHandle;
  return canvas;
}

export function fromCanvasNode(node: CairnNode): GraphNode {
  const { nodeType, ...data } = node.data;
  const stored: GraphNode["data"] = { ...data, config: data.config ?? {} };
  if (!stored.label) delete stored.label;
  if (!stored.open_handles?.length) delete stored.open_handles;
  return {
    id: node.id,
    type: nodeType,
    position: { x: Math.round(node.position.x), y: Math.round(node.position.y) },
    data: stored,
  };
}

export function fromCanvasEdge(edge: CairnEdge): GraphEdge {
  const stored: GraphEdge = { id: edge.id, source: edge.source, target: edge.target };
  if (edge.sourceHandle) stored.sourceHandle = edge.sourceHandle;
  if (edge.targetHandle) stored.targetHandle = edge.targetHandle;
  return stored;
}

export function toCanvas(graph: Graph): { nodes: CairnNode[]; edges: CairnEdge[]; settings: JsonObject } {
  return {
    nodes: (graph.nodes ?? []).map(toCanvasNode),
    edges: (graph.edges ?? []).map(toCanvasEdge),
    settings: graph.settings ?? {},
  };
}

export function fromCanvas(nodes: CairnNode[], edges: CairnEdge[], settings: JsonObject): Graph {
  return { nodes: nodes.map(fromCanvasNode), edges: edges.map(fromCanvasEdge), settings };
}

/** A node id that is readable and not taken: "action_email", "action_email_2", … */
export function freshNodeId(nodeType: string, taken: Set<string>): string {
  const base = nodeType.replace(/[^a-z0-9_]/gi, "_").slice(0, 40) || "node";
  if (!taken.has(base)) return base;
  for (let n = 2; ; n += 1) {
    const candidate = `${base}_${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function freshEdgeId(source: string, handle: string | null | undefined, target: string, taken: Set<string>): string {
  const base = `e_${source}_${handle ?? "out"}_${target}`.slice(0, 120);
  if (!taken.has(base)) return base;
  for (let n = 2; ; n += 1) {
    const candidate = `${base}_${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

/** The nodes and the edges between them, re-keyed so they can be pasted next to the originals. */
export function cloneSelection(
  nodes: GraphNode[],
  edges: GraphEdge[],
  takenNodeIds: Set<string>,
  takenEdgeIds: Set<string>,
  offset: { x: number; y: number },
): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const taken = new Set(takenNodeIds);
  const renamed = new Map<string, string>();
  const copies = nodes.map((node) => {
    const id = freshNodeId(node.id, taken);
    taken.add(id);
    renamed.set(node.id, id);
    return {
      ...structuredClone(node),
      id,
      position: { x: node.position.x + offset.x, y: node.position.y + offset.y },
    };
  });
  const edgeIds = new Set(takenEdgeIds);
  const copiedEdges = edges
    .filter((edge) => renamed.has(edge.source) && renamed.has(edge.target))
    .map((edge) => {
      const source = renamed.get(edge.source) as string;
      const target = renamed.get(edge.target) as string;
      const id = freshEdgeId(source, edge.sourceHandle, target, edgeIds);
      edgeIds.add(id);
      return { ...edge, id, source, target };
    });
  return { nodes: copies, edges: copiedEdges };
}
