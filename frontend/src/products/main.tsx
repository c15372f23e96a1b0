/** The products pages: the list at /products/, one product at /products/<id>/. */

import "../styles.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { configureApi } from "../api/client";
import type { AppConfig } from "../api/types";
import { AppHeader } from "../components/WorkflowListPage";
import { ProductListPage } from "./ProductListPage";
import { ProductPage } from "./ProductPage";

type ProductsConfig = AppConfig & { productId: number | null };

function readConfig(): ProductsConfig {
  const element = document.getElementById("cairn-config");
  if (!element?.textContent) throw new Error("The page has no #cairn-config.");
  return JSON.parse(element.textContent) as ProductsConfig;
}

document.body.classList.add("cairn");
const app = readConfig();
configureApi(app);
const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <AppHeader app={app} />
      {app.productId === null ? (
        <ProductListPage />
      ) : (
        <ProductPage productId={app.productId} canAcknowledge={app.role !== "viewer"} />
      )}
    </StrictMode>,
  );
}
