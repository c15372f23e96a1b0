/** Purpose-made widgets of the side panel: rules, durations, templates, splits, lists. */

import { useEffect, useId, useMemo, useRef, useState } from "react";

import { api } from "../api/client";
import type { JsonObject, JsonSchema, JsonValue } from "../api/types";
import { optionsOf, splitProblem } from "./fields";

type Change<T> = (value: T) => void;

// ---------------------------------------------------------------- duration
export function DurationPicker({
  id,
  label,
  value,
  schema,
  onChange,
}: {
  id: string;
  label: string;
  value: JsonValue | undefined;
  schema: JsonSchema;
  onChange: Change<JsonObject>;
}) {
  const current = (value && typeof value === "object" && !Array.isArray(value) ? value : {}) as JsonObject;
  const unitSchema = schema.properties?.unit ?? { enum: ["minutes", "hours", "days", "weeks"] };
  const amount = typeof current.amount === "number" ? current.amount : "";
  const unit = typeof current.unit === "string" ? current.unit : String(unitSchema.default ?? "days");
  return (
    <div className="duration" role="group" aria-label={label}>
      <input
        id={id}
        type="number"
        min={0}
        step="any"
        aria-label={`${label}: amount`}
        value={amount}
        onChange={(event) => {
          const number = event.target.valueAsNumber;
          onChange({ ...current, unit, amount: Number.isFinite(number) ? number : 0 });
        }}
      />
      <select aria-label={`${label}: unit`} value={unit} onChange={(event) => onChange({ ...current, amount: amount === "" ? 1 : amount, unit: event.target.value })}>
        {optionsOf(unitSchema).map((option) => (
          <option key={String(option.value)} value={String(option.value)}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

// ---------------------------------------------------------------- templates
/** The `{{ …` being typed just before the caret, if any. */
export function openTemplateAt(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const start = before.lastIndexOf("{{");
  if (start < 0 || before.lastIndexOf("}}") > start) return null;
  const query = before.slice(start + 2).trimStart();
  if (/[^\w.]/.test(query)) return null;
  return { start, query };
}

export function completeTemplate(text: string, caret: number, variable: string): { text: string; caret: number } {
  const open = openTemplateAt(text, caret);
  if (!open) return { text, caret };
  const insert = `{{ ${variable} }}`;
  const after = text.slice(caret).replace(/^[\w.]*\s*\}\}/, "");
  return { text: text.slice(0, open.start) + insert + after, caret: open.start + insert.length };
}

export function TemplateEditor({
  id,
  label,
  value,
  multiline,
  variables,
  invalid,
  onChange,
}: {
  id: string;
  label: string;
  value: string;
  multiline: boolean;
  variables: string[];
  invalid: boolean;
  onChange: Change<string>;
}) {
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [open, setOpen] = useState<{ start: number; query: string } | null>(null);
  const [active, setActive] = useState(0);
  const listId = useId();
  const matches = useMemo(
    () => (open ? variables.filter((name) => name.toLowerCase().includes(open.query.toLowerCase())).slice(0, 8) : []),
    [open, variables],
  );

  const refresh = () => {
    const element = ref.current;
    if (!element) return;
    setOpen(openTemplateAt(element.value, element.selectionStart ?? element.value.length));
    setActive(0);
  };
  const choose = (variable: string) => {
    const element = ref.current;
    if (!element) return;
    const completed = completeTemplate(element.value, element.selectionStart ?? element.value.length, variable);
    onChange(completed.text);
    setOpen(null);
    requestAnimationFrame(() => {
      element.focus();
      element.setSelectionRange(completed.caret, completed.caret);
    });
  };
  const onKeyDown = (event: React.KeyboardEvent) => {
    if (!matches.length) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setActive((index) => (index + 1) % matches.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((index) => (index - 1 + matches.length) % matches.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      choose(matches[active] ?? matches[0] ?? "");
    } else if (event.key === "Escape") {
      setOpen(null);
    }
  };
  const props = {
    id,
    ref,
    value,
    "aria-invalid": invalid || undefined,
    "aria-autocomplete": "list" as const,
    "aria-controls": matches.length ? listId : undefined,
    "aria-expanded": matches.length > 0,
    role: "combobox",
    onChange: (event: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => {
      onChange(event.target.value);
      requestAnimationFrame(refresh);
    },
    onKeyDown,
    onClick: refresh,
    onBlur: () => setTimeout(() => setOpen(null), 150),
  };
  return (
    <div className="template-editor">
      {multiline ? <textarea rows={6} {...props} /> : <input type="text" {...props} />}
      {matches.length > 0 && (
        <ul className="completions" role="listbox" id={listId} aria-label={`Variables for ${label}`}>
          {matches.map((name, index) => (
            <li
              key={name}
              role="option"
              aria-selected={index === active}
              className={index === active ? "active" : ""}
              onMouseDown={(event) => {
                event.preventDefault();
                choose(name);
              }}
            >
              {name}
            </li>
          ))}
        </ul>
      )}
      <p className="hint">
        Type <code>{"{{"}</code> to insert a variable.
      </p>
    </div>
  );
}

// ---------------------------------------------------------------- rules
const NO_VALUE = new Set(["exists", "not_exists", "is_true", "is_false"]);
const LIST_VALUE = new Set(["in", "not_in"]);
const DURATION_VALUE = new Set(["within_last", "not_within_last"]);
const NUMBER_VALUE = new Set(["gt", "gte", "lt", "lte"]);

export function parseRuleValue(op: string, text: string): JsonValue {
  if (LIST_VALUE.has(op)) {
    return text
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => parseScalar(part));
  }
  return parseScalar(text, NUMBER_VALUE.has(op));
}

function parseScalar(text: string, preferNumber = false): JsonValue {
  const trimmed = text.trim();
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (trimmed !== "" && !Number.isNaN(Number(trimmed)) && (preferNumber || /^-?\d+(\.\d+)?$/.test(trimmed))) {
    return Number(trimmed);
  }
  return text;
}

export function ruleValueText(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map((item) => String(item)).join(", ");
  if (typeof value === "object") return "";
  return String(value);
}

export function RuleBuilder({
  id,
  label,
  value,
  schema,
  fieldNames,
  problems,
  onChange,
}: {
  id: string;
  label: string;
  value: JsonValue | undefined;
  schema: JsonSchema;
  fieldNames: string[];
  problems: (path: string) => string;
  onChange: Change<JsonValue[]>;
}) {
  const rules = (Array.isArray(value) ? value : []) as JsonObject[];
  const ruleSchema = schema.items ?? {};
  const operators = optionsOf(ruleSchema.properties?.op ?? {});
  const listId = useId();
  const update = (index: number, patch: JsonObject) =>
    onChange(rules.map((rule, position) => (position === index ? { ...rule, ...patch } : rule)));
  const remove = (index: number) => onChange(rules.filter((_, position) => position !== index));
  return (
    <div className="rules" role="group" aria-label={label} id={id}>
      <datalist id={listId}>
        {fieldNames.map((name) => (
          <option key={name} value={name} />
        ))}
      </datalist>
      {rules.length === 0 && <p className="hint">No rules: always matches.</p>}
      {rules.map((rule, index) => {
        const op = typeof rule.op === "string" ? rule.op : "eq";
        const n = index + 1;
        const problem = problems(String(index));
        return (
          <div className={`rule ${problem ? "invalid" : ""}`} key={index}>
            <input
              type="text"
              list={listId}
              placeholder="contact.properties.plan"
              aria-label={`Rule ${n} field`}
              value={typeof rule.field === "string" ? rule.field : ""}
              onChange={(event) => update(index, { field: event.target.value })}
            />
            <select aria-label={`Rule ${n} operator`} value={op} onChange={(event) => {
              const next = event.target.value;
              const patch: JsonObject = { op: next };
              if (NO_VALUE.has(next)) patch.value = null;
              if (DURATION_VALUE.has(next) && (typeof rule.value !== "object" || rule.value === null || Array.isArray(rule.value))) {
                patch.value = { amount: 7, unit: "days" };
              }
              const updated = { ...rule, ...patch };
              if (NO_VALUE.has(next)) delete updated.value;
              onChange(rules.map((other, position) => (position === index ? updated : other)));
            }}>
              {operators.map((option) => (
                <option key={String(option.value)} value={String(option.value)}>
                  {option.label}
                </option>
              ))}
            </select>
            {DURATION_VALUE.has(op) ? (
              <DurationPicker
                id={`${id}-${index}-value`}
                label={`Rule ${n} value`}
                value={rule.value}
                schema={{ properties: { unit: { enum: ["minutes", "hours", "days", "weeks"], default: "days" } } }}
                onChange={(duration) => update(index, { value: duration })}
              />
            ) : NO_VALUE.has(op) ? null : (
              <RuleValueInput
                label={`Rule ${n} value`}
                op={op}
                value={rule.value}
                onChange={(parsed) => update(index, { value: parsed })}
              />
            )}
            <button type="button" className="icon" aria-label={`Remove rule ${n}`} onClick={() => remove(index)}>
              ×
            </button>
            {problem && <p className="field-error">{problem}</p>}
          </div>
        );
      })}
      <button type="button" className="secondary small" onClick={() => onChange([...rules, { field: "", op: "eq", value: "" }])}>
        + Add rule
      </button>
    </div>
  );
}

function RuleValueInput({ label, op, value, onChange }: { label: string; op: string; value: JsonValue | undefined; onChange: Change<JsonValue> }) {
  const [text, setText] = useState(ruleValueText(value));
  useEffect(() => {
    // Follow outside changes (undo) without fighting the user's typing.
    if (JSON.stringify(parseRuleValue(op, text)) !== JSON.stringify(value ?? "")) setText(ruleValueText(value));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value, op]);
  return (
    <input
      type="text"
      aria-label={label}
      placeholder={LIST_VALUE.has(op) ? "a, b, c" : "value"}
      value={text}
      onChange={(event) => {
        setText(event.target.value);
        onChange(parseRuleValue(op, event.target.value));
      }}
    />
  );
}

// ---------------------------------------------------------------- split
export function SplitEditor({ id, label, value, onChange }: { id: string; label: string; value: JsonValue | undefined; onChange: Change<JsonValue[]> }) {
  const branches = (Array.isArray(value) ? value : []) as JsonObject[];
  const problem = splitProblem(branches);
  const total = branches.reduce((sum, branch) => sum + (typeof branch.percent === "number" ? branch.percent : 0), 0);
  const update = (index: number, patch: JsonObject) =>
    onChange(branches.map((branch, position) => (position === index ? { ...branch, ...patch } : branch)));
  const nextHandle = () => {
    const taken = new Set(branches.map((branch) => branch.handle));
    for (const letter of "abcdefghijklmnopqrstuvwxyz") if (!taken.has(letter)) return letter;
    return `path_${branches.length + 1}`;
  };
  const even = () => {
    const share = Math.floor(100 / branches.length);
    onChange(branches.map((branch, index) => ({ ...branch, percent: index === 0 ? 100 - share * (branches.length - 1) : share })));
  };
  return (
    <div className="split" role="group" aria-label={label} id={id}>
      {branches.map((branch, index) => (
        <div className="split-row" key={index}>
          <input
            type="text"
            aria-label={`Path ${index + 1} name`}
            value={typeof branch.handle === "string" ? branch.handle : ""}
            onChange={(event) => update(index, { handle: event.target.value })}
          />
          <input
            type="number"
            min={0}
            max={100}
            aria-label={`Path ${index + 1} percent`}
            value={typeof branch.percent === "number" ? branch.percent : ""}
            onChange={(event) => update(index, { percent: Number.isFinite(event.target.valueAsNumber) ? event.target.valueAsNumber : 0 })}
          />
          <span aria-hidden="true">%</span>
          <button
            type="button"
            className="icon"
            aria-label={`Remove path ${index + 1}`}
            disabled={branches.length <= 2}
            onClick={() => onChange(branches.filter((_, position) => position !== index))}
          >
            ×
          </button>
        </div>
      ))}
      <p className={problem ? "field-error" : "hint"} role={problem ? "alert" : undefined}>
        Total: {total}% {problem ? `— ${problem}` : "✓"}
      </p>
      <div className="row">
        <button type="button" className="secondary small" onClick={() => onChange([...branches, { handle: nextHandle(), percent: 0 }])}>
          + Add path
        </button>
        <button type="button" className="secondary small" onClick={even}>
          Split evenly
        </button>
      </div>
    </div>
  );
}

// ---------------------------------------------------------------- lists and maps
export function StringList({ id, label, value, onChange }: { id: string; label: string; value: JsonValue | undefined; onChange: Change<string[]> }) {
  const items = (Array.isArray(value) ? value : []).map(String);
  const [draft, setDraft] = useState("");
  const add = () => {
    const parts = draft
      .split(",")
      .map((part) => part.trim())
      .filter((part) => part && !items.includes(part));
    if (parts.length) onChange([...items, ...parts]);
    setDraft("");
  };
  return (
    <div className="chips">
      <ul aria-label={`${label}: chosen`}>
        {items.map((item) => (
          <li key={item} className="chip">
            {item}
            <button type="button" aria-label={`Remove ${item}`} onClick={() => onChange(items.filter((other) => other !== item))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      <input
        id={id}
        type="text"
        placeholder="Type and press Enter"
        value={draft}
        onChange={(event) => setDraft(event.target.value)}
        onKeyDown={(event) => {
          if (event.key === "Enter" || event.key === ",") {
            event.preventDefault();
            add();
          }
        }}
        onBlur={add}
      />
    </div>
  );
}

export function EnumList({ label, value, schema, onChange }: { label: string; value: JsonValue | undefined; schema: JsonSchema; onChange: Change<JsonValue[]> }) {
  const chosen = new Set((Array.isArray(value) ? value : []).map(String));
  const options = optionsOf(schema.items ?? {});
  return (
    <fieldset className="enum-list">
      <legend className="sr-only">{label}</legend>
      {options.map((option) => (
        <label key={String(option.value)} className="check">
          <input
            type="checkbox"
            checked={chosen.has(String(option.value))}
            onChange={(event) =>
              onChange(
                options
                  .filter((other) => (other.value === option.value ? event.target.checked : chosen.has(String(other.value))))
                  .map((other) => other.value),
              )
            }
          />
          {option.label}
        </label>
      ))}
    </fieldset>
  );
}

export function KeyValue({
  id,
  label,
  value,
  variables,
  onChange,
}: {
  id: string;
  label: string;
  value: JsonValue | undefined;
  variables: string[];
  onChange: Change<JsonObject>;
}) {
  const entries = Object.entries(value && typeof value === "object" && !Array.isArray(value) ? value : {});
  const [rows, setRows] = useState<[string, string][]>(entries.map(([key, item]) => [key, typeof item === "string" ? item : JSON.stringify(item)]));
  useEffect(() => {
    const incoming = entries.map(([key, item]) => [key, typeof item === "string" ? item : JSON.stringify(item)] as [string, string]);
    const current = rows.filter(([key]) => key.trim() !== "");
    if (JSON.stringify(incoming) !== JSON.stringify(current)) setRows(incoming);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [JSON.stringify(value)]);
  const commit = (next: [string, string][]) => {
    setRows(next);
    const object: JsonObject = {};
    for (const [key, item] of next) if (key.trim()) object[key.trim()] = parseScalar(item);
    onChange(object);
  };
  const listId = useId();
  return (
    <div className="key-value" role="group" aria-label={label} id={id}>
      <datalist id={listId}>
        {variables.map((name) => (
          <option key={name} value={`{{ ${name} }}`} />
        ))}
      </datalist>
      {rows.map(([key, item], index) => (
        <div className="kv-row" key={index}>
          <input type="text" aria-label={`${label}: name ${index + 1}`} placeholder="name" value={key} onChange={(event) => commit(rows.map((row, position) => (position === index ? [event.target.value, row[1]] : row)))} />
          <input type="text" list={listId} aria-label={`${label}: value ${index + 1}`} placeholder="value or {{ template }}" value={item} onChange={(event) => commit(rows.map((row, position) => (position === index ? [row[0], event.target.value] : row)))} />
          <button type="button" className="icon" aria-label={`Remove ${key || `row ${index + 1}`}`} onClick={() => commit(rows.filter((_, position) => position !== index))}>
            ×
          </button>
        </div>
      ))}
      <button type="button" className="secondary small" onClick={() => setRows([...rows, ["", ""]])}>
        + Add
      </button>
    </div>
  );
}

/** Text or JSON: what the user typed stays as typed; the value is JSON when it parses as an
 * object or list, the text otherwise. With `allowText`, `{{` offers variables as you type. */
export function JsonEditor({
  id,
  label,
  value,
  allowText,
  variables = [],
  onChange,
}: {
  id: string;
  label: string;
  value: JsonValue | undefined;
  allowText: boolean;
  variables?: string[];
  onChange: Change<JsonValue | undefined>;
}) {
  const shown = value === undefined ? "" : typeof value === "string" && allowText ? value : JSON.stringify(value, null, 2);
  const [text, setText] = useState(shown);
  const [error, setError] = useState("");
  const committed = useRef<string>(JSON.stringify(value ?? null));
  useEffect(() => {
    // Follow outside changes (undo, restore), never the echo of our own typing.
    if (JSON.stringify(value ?? null) !== committed.current) {
      committed.current = JSON.stringify(value ?? null);
      setText(shown);
    }
  }, [value, shown]);
  const commit = (next: string) => {
    setText(next);
    let parsed: JsonValue | undefined = undefined;
    if (next.trim() !== "") {
      try {
        parsed = JSON.parse(next) as JsonValue;
      } catch {
        parsed = undefined;
      }
    }
    if (next.trim() === "") {
      setError("");
      committed.current = "null";
      onChange(undefined);
    } else if (parsed !== undefined && (typeof parsed === "object" || !allowText)) {
      setError("");
      committed.current = JSON.stringify(parsed);
      onChange(parsed);
    } else if (allowText) {
      setError("");
      committed.current = JSON.stringify(next);
      onChange(next);
    } else {
      setError("Not valid JSON.");
    }
  };
  return (
    <>
      {allowText ? (
        <TemplateEditor id={id} label={label} value={text} multiline variables={variables} invalid={!!error} onChange={commit} />
      ) : (
        <textarea id={id} rows={5} aria-label={label} value={text} aria-invalid={error ? true : undefined} onChange={(event) => commit(event.target.value)} />
      )}
      {allowText && <p className="hint">Plain text, or JSON (sent as JSON; its text values can use templates).</p>}
      {error && <p className="field-error">{error}</p>}
    </>
  );
}

// ---------------------------------------------------------------- connections
/** Pick one of the workspace's stored connections for a provider, and test it. */
export function ConnectionPicker({
  id,
  label,
  provider,
  builtins = [],
  value,
  onChange,
}: {
  id: string;
  label: string;
  provider: string;
  /** Choices offered before the connections (the team inbox); they cannot be tested. */
  builtins?: { value: string; label: string }[];
  value: JsonValue | undefined;
  onChange: Change<string | undefined>;
}) {
  const [options, setOptions] = useState<{ id: number; name: string }[] | null>(null);
  const [error, setError] = useState("");
  const [tested, setTested] = useState<{ ok: boolean; detail: string } | null>(null);
  useEffect(() => {
    setOptions(null);
    setError("");
    if (!provider) return;
    api
      .connections(provider)
      .then((page) => setOptions(page.results))
      .catch((failure: Error) => setError(failure.message));
  }, [provider]);
  const chosen = value === undefined || value === null ? "" : String(value);
  const builtin = builtins.some((option) => option.value === chosen);
  return (
    <div className="connection-picker">
      <select id={id} value={chosen} onChange={(event) => {
        setTested(null);
        onChange(event.target.value || undefined);
      }}>
        {builtins.length === 0 && (
          <option value="">{options === null ? "Loading…" : options.length ? "—" : `No ${provider} connection yet`}</option>
        )}
        {builtins.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
        {builtins.length > 0 && options !== null && options.length === 0 && (
          <option value="" disabled>
            No {provider} connection yet
          </option>
        )}
        {(options ?? []).map((option) => (
          <option key={option.id} value={String(option.id)}>
            {option.name}
          </option>
        ))}
      </select>
      <button
        type="button"
        className="secondary small"
        disabled={!chosen || builtin}
        aria-label={`Test ${label}`}
        onClick={() =>
          api
            .testConnection(chosen)
            .then(setTested)
            .catch((failure: Error) => setTested({ ok: false, detail: failure.message }))
        }
      >
        Test connection
      </button>
      {tested && (
        <p className={tested.ok ? "hint" : "field-error"} role="status">
          {tested.ok ? "✓ " : "✗ "}
          {tested.detail}
        </p>
      )}
      {error && <p className="field-error">{error}</p>}
    </div>
  );
}
