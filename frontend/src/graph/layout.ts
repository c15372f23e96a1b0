/** Auto-layout with elkjs (layered, top to bottom). The browser runs ELK in a web worker. */

import type { ELK, ElkNode } from "elkjs/lib/elk-api";

export interface LayoutNode {
  id: string;
  width: number;
  height: number;
  /** Output handles in order, so branches keep their left-to-right order. */
  handles: string[];
}

export interface LayoutEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
}

export const DEFAULT_NODE_SIZE = { width: 240, height: 96 };

export function toElkGraph(nodes: LayoutNode[], edges: LayoutEdge[]): ElkNode {
  const ids = new Set(nodes.map((node) => node.id));
  return {
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "DOWN",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.spacing.nodeNode": "50",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
      "elk.portConstraints": "FIXED_ORDER",
    },
    children: nodes.map((node) => ({
      id: node.id,
      width: node.width,
      height: node.height,
      layoutOptions: { "elk.portConstraints": "FIXED_ORDER" },
      ports: [
        { id: `${node.id}::in`, layoutOptions: { "elk.port.side": "NORTH" } },
        ...node.handles.map((handle, index) => ({
          id: `${node.id}::${handle}`,
          layoutOptions: { "elk.port.side": "SOUTH", "elk.port.index": String(node.handles.length - index) },
        })),
      ],
    })),
    edges: edges
      .filter((edge) => ids.has(edge.source) && ids.has(edge.target))
      .map((edge) => {
        const source = nodes.find((node) => node.id === edge.source);
        const handle = edge.sourceHandle ?? source?.handles[0] ?? "out";
        const port = source?.handles.includes(handle) ? `${edge.source}::${handle}` : edge.source;
        return { id: edge.id, sources: [port], targets: [`${edge.target}::in`] };
      }),
  };
}

export async function layout(
  elk: ELK,
  nodes: LayoutNode[],
  edges: LayoutEdge[],
): Promise<Map<string, { x: number; y: number }>> {
  const result = await elk.layout(toElkGraph(nodes, edges));
  const positions = new Map<string, { x: number; y: number }>();
  for (const child of result.children ?? []) {
    positions.set(child.id, { x: Math.round(child.x ?? 0), y: Math.round(child.y ?? 0) });
  }
  return positions;
}

let browserElk: Promise<ELK> | null = null;

/** ELK in a web worker, made once, only when the first layout is asked for. */
export function workerElk(): Promise<ELK> {
  browserElk ??= Promise.all([import("elkjs/lib/elk-api"), import("elkjs/lib/elk-worker.min.js?url")]).then(
    ([api, worker]) => new api.default({ workerFactory: () => new Worker(worker.default) }),
  );
  return browserElk;
}
