/** The side panel: the selected node's form, or the workflow's settings when none is selected. */

import { useMemo } from "react";

import type { FieldSuggestions, Issue, JsonObject } from "../api/types";
import { handlesFor } from "../graph/catalogue";
import { SchemaForm, type FormContext } from "../forms/SchemaForm";
import { useEditor, useEditorContext } from "../store/context";
import { PrioritySelect } from "./PrioritySelect";

const BASE_VARIABLES = ["contact.email", "contact.first_name", "contact.last_name", "contact.external_id", "contact.tags", "contact.time_zone", "event.type", "event.occurred_at"];

/** Field names for rules and `{{ }}` variables: known contact properties, event data, earlier steps. */
export function variablesFor(suggestions: FieldSuggestions | null, eventTypes: string[], nodeIds: string[]): string[] {
  const names = new Set<string>(BASE_VARIABLES);
  for (const name of suggestions?.contact ?? []) names.add(name);
  const events = suggestions?.events ?? {};
  const wanted = eventTypes.length ? eventTypes.filter((type) => type in events) : Object.keys(events);
  for (const type of wanted) for (const name of events[type] ?? []) names.add(name);
  for (const name of suggestions?.engagement ?? []) names.add(name);
  for (const name of suggestions?.now ?? []) names.add(name);
  for (const id of nodeIds) names.add(`steps.${id}`);
  return [...names];
}

/** The problems the server reported for one config path ("rules.0.value"), or under it. */
export function problemLookup(issues: Issue[], nodeId: string | null) {
  const byField = new Map<string, string[]>();
  for (const issue of issues) {
    if (issue.node !== nodeId || !issue.field?.startsWith("config.")) continue;
    const field = issue.field.slice("config.".length).replace(/\[(\d+)\]/g, ".$1");
    byField.set(field, [...(byField.get(field) ?? []), issue.message.replace(/^Node '[^']*': /, "")]);
  }
  return (path: string, nested = false) => {
    const found = nested
      ? [...byField.entries()].filter(([field]) => field === path || field.startsWith(`${path}.`)).flatMap(([, messages]) => messages)
      : (byField.get(path) ?? []);
    return found.join(" ");
  };
}

export function SidePanel({ suggestions }: { suggestions: FieldSuggestions | null }) {
  const { store, catalogue, readOnly } = useEditorContext();
  const selected = useEditor((state) => {
    const chosen = state.nodes.filter((node) => node.selected);
    return chosen.length === 1 ? chosen[0] : null;
  });
  const selectedCount = useEditor((state) => state.nodes.filter((node) => node.selected).length);
  const issues = useEditor((state) => state.issues);
  const focus = useEditor((state) => state.focus);
  const nodeIds = useEditor((state) => state.nodes.map((node) => node.id).join(","));
  const eventTypes = useEditor((state) =>
    state.nodes
      .map((node) => node.data.config?.event)
      .filter((event): event is string => typeof event === "string" && event !== "")
      .join(","),
  );
  const variables = useMemo(
    () => variablesFor(suggestions, eventTypes ? eventTypes.split(",") : [], nodeIds ? nodeIds.split(",") : []),
    [suggestions, eventTypes, nodeIds],
  );

  if (!selected) {
    return (
      <aside className="side-panel" aria-label="Workflow settings">
        {selectedCount > 1 ? <p className="hint">{selectedCount} nodes selected. Delete, duplicate or copy them together.</p> : null}
        <WorkflowSettings readOnly={readOnly} />
      </aside>
    );
  }

  const info = catalogue.get(selected.data.nodeType);
  const config = selected.data.config ?? {};
  const nodeProblems = issues.filter((issue) => issue.node === selected.id);
  const context: FormContext = {
    problemAt: problemLookup(issues, selected.id),
    fieldNames: variables,
    variables,
    focusPath: focus && focus.nodeId === selected.id && focus.field ? focus.field.replace(/^config\./, "") : null,
    focusAt: focus?.at ?? 0,
  };
  const handles = handlesFor(info, config);
  const openHandles = new Set(selected.data.open_handles ?? []);
  const state = store.getState();

  return (
    <aside className="side-panel" aria-label={`Settings of ${selected.data.label || info?.label || selected.id}`}>
      <header className="panel-head">
        <h2>{info?.label ?? selected.data.nodeType}</h2>
        <p className="hint">{info?.description}</p>
        <p className="node-id">
          Step id <code>{selected.id}</code>
        </p>
      </header>
      <fieldset disabled={readOnly} className="plain">
        <div className="field">
          <label htmlFor="node-label">Name on the canvas</label>
          <input
            id="node-label"
            type="text"
            placeholder={info?.label}
            value={selected.data.label ?? ""}
            onChange={(event) => state.updateNodeData(selected.id, { label: event.target.value })}
          />
        </div>
        {nodeProblems.length > 0 && (
          <ul className="node-problems" aria-label="Problems with this step">
            {nodeProblems.map((issue, index) => (
              <li key={index} className="field-error">
                {issue.message.replace(/^Node '[^']*': /, "")}
              </li>
            ))}
          </ul>
        )}
        {info ? (
          <SchemaForm schema={info.config_schema} value={config} onChange={(next) => state.updateConfig(selected.id, next)} context={context} />
        ) : (
          <p className="field-error">This node type is not in the catalogue.</p>
        )}
        {info?.branching && handles.length > 0 && (
          <fieldset className="open-handles">
            <legend>Paths that may stay unconnected</legend>
            {handles.map((handle) => (
              <label key={handle} className="check">
                <input
                  type="checkbox"
                  checked={openHandles.has(handle)}
                  onChange={(event) => {
                    const next = new Set(openHandles);
                    if (event.target.checked) next.add(handle);
                    else next.delete(handle);
                    state.updateNodeData(selected.id, { open_handles: [...next] });
                  }}
                />
                {handle} ends the run
              </label>
            ))}
          </fieldset>
        )}
        <div className="row">
          <button type="button" className="secondary" onClick={() => state.duplicateSelected()}>
            Duplicate
          </button>
          <button type="button" className="danger" onClick={() => state.deleteSelected()}>
            Delete step
          </button>
        </div>
      </fieldset>
    </aside>
  );
}

const REENROLLMENT = [
  ["never", "Never: a contact goes through once"],
  ["after_completion", "Again once their previous run ended"],
  ["always", "Every time the trigger fires"],
] as const;

function WorkflowSettings({ readOnly }: { readOnly: boolean }) {
  const { store } = useEditorContext();
  const settings = useEditor((state) => state.settings);
  const allIssues = useEditor((state) => state.issues);
  const issues = allIssues.filter((issue) => !issue.node && issue.field?.startsWith("settings"));
  const update = (patch: JsonObject) => {
    const next: JsonObject = { ...settings, ...patch };
    for (const [key, value] of Object.entries(next)) if (value === null || value === "") delete next[key];
    store.getState().updateSettings(next);
  };
  const exitEvent =
    settings.exit_when && typeof settings.exit_when === "object" && !Array.isArray(settings.exit_when) && typeof settings.exit_when.event === "string"
      ? settings.exit_when.event
      : "";
  const quiet = settings.quiet_hours && typeof settings.quiet_hours === "object" && !Array.isArray(settings.quiet_hours) ? settings.quiet_hours : null;
  return (
    <fieldset disabled={readOnly} className="plain">
      <h2>Workflow settings</h2>
      <p className="hint">Select a step on the canvas to edit it.</p>
      <PrioritySelect readOnly={readOnly} />
      <div className="field">
        <label htmlFor="reenrollment">Re-enrolment</label>
        <select id="reenrollment" value={typeof settings.reenrollment === "string" ? settings.reenrollment : "never"} onChange={(event) => update({ reenrollment: event.target.value })}>
          {REENROLLMENT.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="exit-event">Leave the workflow when this event arrives</label>
        <input id="exit-event" type="text" placeholder="e.g. order_placed" value={exitEvent} onChange={(event) => update({ exit_when: event.target.value ? { event: event.target.value } : null })} />
      </div>
      <div className="field">
        <span className="label">Quiet hours (contact's time zone)</span>
        <div className="row">
          <label className="inline">
            From
            <input type="time" aria-label="Quiet hours from" value={typeof quiet?.start === "string" ? quiet.start : ""} onChange={(event) => update({ quiet_hours: event.target.value ? { start: event.target.value, end: typeof quiet?.end === "string" ? quiet.end : "08:00" } : null })} />
          </label>
          <label className="inline">
            to
            <input type="time" aria-label="Quiet hours to" value={typeof quiet?.end === "string" ? quiet.end : ""} disabled={!quiet} onChange={(event) => update({ quiet_hours: { start: typeof quiet?.start === "string" ? quiet.start : "21:00", end: event.target.value } })} />
          </label>
        </div>
        <p className="hint">Emails and webhooks due inside the window wait until it ends.</p>
      </div>
      {issues.map((issue, index) => (
        <p key={index} className="field-error">
          {issue.message}
        </p>
      ))}
    </fieldset>
  );
}
