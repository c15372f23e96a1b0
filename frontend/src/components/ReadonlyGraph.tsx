/** A workflow graph drawn read-only: template previews, old versions, the admin page. */

import { Background, Controls, ReactFlow, ReactFlowProvider } from "@xyflow/react";
import { useMemo } from "react";

import type { AppConfig, Graph } from "../api/types";
import type { Catalogue } from "../graph/catalogue";
import { toCanvas } from "../graph/convert";
import { nodeTypes } from "../nodes/CairnNode";
import { EditorContext } from "../store/context";
import { createEditorStore } from "../store/editor";

export function ReadonlyGraph({
  graph,
  catalogue,
  app = null,
  label = "Workflow preview",
}: {
  graph: Graph;
  catalogue: Catalogue;
  app?: AppConfig | null;
  label?: string;
}) {
  const context = useMemo(() => {
    const store = createEditorStore(catalogue);
    store.setState(toCanvas(graph));
    return { store, catalogue, autosave: null, readOnly: true, app };
  }, [graph, catalogue, app]);
  const { nodes, edges } = context.store.getState();
  return (
    <EditorContext.Provider value={context}>
      <ReactFlowProvider>
        <div className="readonly-graph" aria-label={label} role="figure">
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={nodeTypes}
            nodesDraggable={false}
            nodesConnectable={false}
            elementsSelectable={false}
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            minZoom={0.1}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls showInteractive={false} />
          </ReactFlow>
        </div>
      </ReactFlowProvider>
    </EditorContext.Provider>
  );
}
