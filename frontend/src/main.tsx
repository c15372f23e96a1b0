/** The app: the workflows list at /workflows/, the editor at /workflows/<id>/, failed runs at /failed-runs/. */

import "@xyflow/react/dist/style.css";
import "./styles.css";

import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

import { api, configureApi } from "./api/client";
import type { AppConfig, NodeTypeInfo } from "./api/types";
import { EditorPage } from "./components/EditorPage";
import { FailedRunsPage } from "./components/FailedRunsPage";
import { WorkflowListPage } from "./components/WorkflowListPage";
import { type Catalogue, indexCatalogue } from "./graph/catalogue";

function readConfig(): AppConfig {
  const element = document.getElementById("cairn-config");
  if (!element?.textContent) throw new Error("The page has no #cairn-config.");
  return JSON.parse(element.textContent) as AppConfig;
}

function App({ app }: { app: AppConfig }) {
  if (app.page === "failed-runs") return <FailedRunsPage app={app} />;
  return <CanvasApp app={app} />;
}

function CanvasApp({ app }: { app: AppConfig }) {
  const [catalogue, setCatalogue] = useState<{ types: NodeTypeInfo[]; index: Catalogue } | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api
      .nodeTypes()
      .then((page) => setCatalogue({ types: page.results, index: indexCatalogue(page.results) }))
      .catch((failure: Error) => setError(`The node catalogue could not be loaded: ${failure.message}`));
  }, []);
  if (error) return <p className="field-error page">{error}</p>;
  if (!catalogue) return <p className="loading">Loading…</p>;
  if (app.workflowId) return <EditorPage app={app} workflowId={app.workflowId} types={catalogue.types} catalogue={catalogue.index} />;
  return <WorkflowListPage app={app} catalogue={catalogue.index} />;
}

document.body.classList.add("cairn");
const app = readConfig();
configureApi(app);
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App app={app} />
    </StrictMode>,
  );
}
