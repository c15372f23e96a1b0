/** The workflow's priority in its settings: which queue its runs take (a PATCH of the workflow). */

import { useState } from "react";

import { api } from "../api/client";
import type { Workflow, WorkflowPriority } from "../api/types";
import { useEditor, useEditorContext } from "../store/context";

export const PRIORITIES: [WorkflowPriority, string][] = [
  ["high", "High: taken before every other run"],
  ["normal", "Normal"],
  ["low", "Low: bulk work, after the others"],
];

export function PrioritySelect({ readOnly }: { readOnly: boolean }) {
  const { store } = useEditorContext();
  const workflow = useEditor((state) => state.workflow) as Workflow | null;
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState("");
  if (!workflow) return null;
  return (
    <div className="field">
      <label htmlFor="priority">Priority</label>
      <select
        id="priority"
        value={workflow.priority ?? "normal"}
        disabled={readOnly || saving}
        onChange={async (event) => {
          setSaving(true);
          setError("");
          try {
            store.getState().setWorkflow(await api.setPriority(workflow.id, event.target.value as WorkflowPriority));
          } catch (failure) {
            setError(failure instanceof Error ? failure.message : String(failure));
          } finally {
            setSaving(false);
          }
        }}
      >
        {PRIORITIES.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
      <p className="hint">Applies at once, to every run queued from now on; no publish needed.</p>
      {error && <p className="field-error">{error}</p>}
    </div>
  );
}
