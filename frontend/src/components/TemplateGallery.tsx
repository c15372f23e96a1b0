/** The templates gallery: read a template, preview its graph, then use it. */

import { useEffect, useState } from "react";

import { api } from "../api/client";
import type { Template } from "../api/types";
import type { Catalogue } from "../graph/catalogue";
import { Dialog } from "./Dialog";
import { ReadonlyGraph } from "./ReadonlyGraph";

export function TemplateGallery({ catalogue, onClose, onUse }: { catalogue: Catalogue; onClose: () => void; onUse: (slug: string) => Promise<void> }) {
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [chosen, setChosen] = useState<Template | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api
      .templates()
      .then((page) => setTemplates(page.results))
      .catch((failure: Error) => setError(failure.message));
  }, []);

  return (
    <Dialog title={chosen ? chosen.name : "Start from a template"} onClose={onClose} wide>
      {error && <p className="field-error">{error}</p>}
      {chosen ? (
        <div className="template-preview">
          <p>{chosen.description}</p>
          <ReadonlyGraph graph={chosen.graph} catalogue={catalogue} label={`Preview of ${chosen.name}`} />
          <div className="row end">
            <button type="button" className="secondary" onClick={() => setChosen(null)}>
              All templates
            </button>
            <button
              type="button"
              className="primary"
              disabled={busy}
              onClick={async () => {
                setBusy(true);
                try {
                  await onUse(chosen.slug);
                } catch (failure) {
                  setError(failure instanceof Error ? failure.message : String(failure));
                  setBusy(false);
                }
              }}
            >
              Use this template
            </button>
          </div>
        </div>
      ) : templates === null ? (
        <p>Loading…</p>
      ) : (
        <ul className="template-cards">
          {templates.map((template) => (
            <li key={template.slug}>
              <button type="button" className="card" onClick={() => setChosen(template)} aria-label={`Preview ${template.name}`}>
                <strong>{template.name}</strong>
                <span className="muted small">
                  {template.category} · {template.graph.nodes.length} steps
                </span>
                <span className="clamp">{template.description}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </Dialog>
  );
}
