/** The draft's validation problems; clicking one shows its node and field. */

import { useState } from "react";

import { useEditor, useEditorContext } from "../store/context";

export function ProblemsList({ onFocusNode }: { onFocusNode: (nodeId: string) => void }) {
  const { store } = useEditorContext();
  const issues = useEditor((state) => state.issues);
  const [open, setOpen] = useState(true);
  const errors = issues.filter((issue) => issue.severity !== "warning");
  if (!issues.length) {
    return (
      <section className="problems ok" aria-label="Problems">
        <span>✓ No problems</span>
      </section>
    );
  }
  return (
    <section className="problems" aria-label="Problems">
      <button type="button" className="problems-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        {errors.length} problem{errors.length === 1 ? "" : "s"}
        {issues.length > errors.length ? `, ${issues.length - errors.length} warning(s)` : ""}
      </button>
      {open && (
        <ul>
          {issues.map((issue, index) => (
            <li key={index} className={issue.severity}>
              {issue.node ? (
                <button
                  type="button"
                  className="link"
                  onClick={() => {
                    store.getState().requestFocus(issue.node as string, issue.field);
                    onFocusNode(issue.node as string);
                  }}
                >
                  <strong>{issue.node}</strong>
                  {issue.field && issue.field !== "(config)" ? ` · ${issue.field}` : ""}: {issue.message}
                </button>
              ) : (
                <span>{issue.message}</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
