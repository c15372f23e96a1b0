/** The admin's read-only drawing of a workflow graph (the workflow change page). */

import "@xyflow/react/dist/style.css";
import "./styles.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import type { Graph, NodeTypeInfo } from "./api/types";
import { ReadonlyGraph } from "./components/ReadonlyGraph";
import { indexCatalogue } from "./graph/catalogue";

const data = JSON.parse(document.getElementById("cairn-readonly-data")?.textContent ?? "null") as {
  graph: Graph;
  nodeTypes: NodeTypeInfo[];
} | null;
const root = document.getElementById("cairn-readonly-root");
if (data && root) {
  createRoot(root).render(
    <StrictMode>
      <ReadonlyGraph graph={data.graph} catalogue={indexCatalogue(data.nodeTypes)} label="The draft, drawn read-only" />
    </StrictMode>,
  );
}
