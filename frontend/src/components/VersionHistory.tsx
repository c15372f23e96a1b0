/** Published versions: view one read-only, restore it into the draft. */

import { useEffect, useState } from "react";

import { api } from "../api/client";
import type { Version } from "../api/types";
import type { Catalogue } from "../graph/catalogue";
import { Dialog } from "./Dialog";
import { ReadonlyGraph } from "./ReadonlyGraph";

export function VersionHistory({
  workflowId,
  catalogue,
  canRestore,
  onRestore,
  onClose,
}: {
  workflowId: string;
  catalogue: Catalogue;
  canRestore: boolean;
  onRestore: (number: number) => Promise<void>;
  onClose: () => void;
}) {
  const [versions, setVersions] = useState<Version[] | null>(null);
  const [error, setError] = useState("");
  const [viewing, setViewing] = useState<Version | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api
      .versions(workflowId)
      .then((page) => setVersions(page.results))
      .catch((failure: Error) => setError(failure.message));
  }, [workflowId]);

  return (
    <Dialog title={viewing ? `Version ${viewing.number}` : "Version history"} onClose={onClose} wide={!!viewing}>
      {error && <p className="field-error">{error}</p>}
      {viewing ? (
        <>
          <ReadonlyGraph graph={viewing.graph} catalogue={catalogue} label={`Version ${viewing.number}`} />
          <div className="row end">
            <button type="button" className="secondary" onClick={() => setViewing(null)}>
              Back to the list
            </button>
            {canRestore && (
              <button
                type="button"
                disabled={busy}
                onClick={async () => {
                  setBusy(true);
                  try {
                    await onRestore(viewing.number);
                  } finally {
                    setBusy(false);
                  }
                }}
              >
                Restore version {viewing.number} into the draft
              </button>
            )}
          </div>
        </>
      ) : versions === null ? (
        <p>Loading…</p>
      ) : versions.length === 0 ? (
        <p>Nothing published yet. Publish to freeze the draft as version 1.</p>
      ) : (
        <table className="versions">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Published</th>
              <th scope="col">By</th>
              <th scope="col">Note</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {versions.map((version) => (
              <tr key={version.number}>
                <td>v{version.number}</td>
                <td>{new Date(version.published_at).toLocaleString()}</td>
                <td>{version.published_by ?? "—"}</td>
                <td>{version.note || "—"}</td>
                <td>
                  <button type="button" className="secondary small" onClick={() => setViewing(version)} aria-label={`View version ${version.number}`}>
                    View
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Dialog>
  );
}
