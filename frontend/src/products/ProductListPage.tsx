/** The workspace's products, each linking to its page. */

import { useEffect, useState } from "react";

import { productsApi } from "./api";
import type { Product } from "./types";

export function ProductListPage() {
  const [products, setProducts] = useState<Product[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    productsApi
      .list()
      .then((page) => setProducts(page.results))
      .catch((failure: Error) => setError(failure.message));
  }, []);
  if (error) return <p className="field-error page">{error}</p>;
  if (!products) return <p className="loading">Loading…</p>;
  return (
    <main className="page">
      <div className="page-head">
        <h1>Products</h1>
      </div>
      {products.length === 0 ? (
        <p className="muted">
          No products yet. Create one with <code>POST /api/v1/products</code> or in the admin (docs/products.md).
        </p>
      ) : (
        <table className="workflows">
          <thead>
            <tr>
              <th>Product</th>
              <th>Features</th>
              <th>Product manager</th>
            </tr>
          </thead>
          <tbody>
            {products.map((p) => (
              <tr key={p.id}>
                <td>
                  <a href={`/products/${p.id}/`}>{p.name}</a>
                </td>
                <td>{p.features.map((f) => f.key).join(", ") || "—"}</td>
                <td>{p.manager_email || "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
