/** The React Flow canvas, wired to the editor store. */

import { Background, Controls, MiniMap, ReactFlow, type ReactFlowInstance, useReactFlow } from "@xyflow/react";
import { useCallback, useMemo, useState } from "react";

import { categoryLook } from "../graph/catalogue";
import type { CairnEdge, CairnNode } from "../graph/convert";
import { nodeTypes } from "../nodes/CairnNode";
import { useEditor, useEditorContext } from "../store/context";
import { DRAG_TYPE } from "./Palette";

const DELETE_KEYS = ["Backspace", "Delete"];
const LARGE_GRAPH = 150;
const FIT_VIEW = { maxZoom: 1, padding: 0.2 };

export function Canvas({ onReady }: { onReady: (instance: ReactFlowInstance<CairnNode, CairnEdge>) => void }) {
  const { store, catalogue, readOnly } = useEditorContext();
  const nodes = useEditor((state) => state.nodes);
  const edges = useEditor((state) => state.edges);
  const highlight = useEditor((state) => state.highlight);
  const flow = useReactFlow<CairnNode, CairnEdge>();
  // Fit a loaded workflow once; never re-fit an empty canvas under the first dropped node.
  const [fitOnLoad] = useState(() => store.getState().nodes.length > 0);
  const actions = store.getState();

  const onDragOver = useCallback((event: React.DragEvent) => {
    if (!event.dataTransfer.types.includes(DRAG_TYPE)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  }, []);

  const onDrop = useCallback(
    (event: React.DragEvent) => {
      const type = event.dataTransfer.getData(DRAG_TYPE);
      if (!type || readOnly) return;
      event.preventDefault();
      const position = flow.screenToFlowPosition({ x: event.clientX, y: event.clientY });
      store.getState().addNode(type, { x: position.x - 120, y: position.y - 30 });
    },
    [flow, store, readOnly],
  );

  const shownEdges = useMemo(() => {
    if (!highlight) return edges;
    const path = new Set(highlight.path);
    return edges.map((edge) =>
      path.has(edge.source) && path.has(edge.target) ? { ...edge, animated: true, className: "on-path" } : edge,
    );
  }, [edges, highlight]);

  const minimapColor = useCallback(
    (node: CairnNode) => categoryLook(catalogue.get(node.data.nodeType)?.category ?? "").color,
    [catalogue],
  );

  return (
    <div className="canvas" onDragOver={onDragOver} onDrop={onDrop} aria-label="Workflow canvas" role="region">
      <ReactFlow<CairnNode, CairnEdge>
        nodes={nodes}
        edges={shownEdges}
        nodeTypes={nodeTypes}
        onNodesChange={actions.onNodesChange}
        onEdgesChange={actions.onEdgesChange}
        onConnect={actions.onConnect}
        onInit={onReady}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={readOnly ? null : DELETE_KEYS}
        multiSelectionKeyCode={["Meta", "Control", "Shift"]}
        selectionKeyCode="Shift"
        onlyRenderVisibleElements={nodes.length > LARGE_GRAPH}
        fitView={fitOnLoad}
        fitViewOptions={FIT_VIEW}
        minZoom={0.05}
        maxZoom={2}
        defaultEdgeOptions={{ type: "smoothstep" }}
        proOptions={{ hideAttribution: true }}
      >
        <Background gap={20} />
        <Controls aria-label="Zoom controls" />
        {/* The minimap redraws every node on every viewport change: costly on large graphs. */}
        {nodes.length <= LARGE_GRAPH && <MiniMap pannable zoomable nodeColor={minimapColor} ariaLabel="Mini map" />}
      </ReactFlow>
    </div>
  );
}
