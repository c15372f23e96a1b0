/** A form generated from a node's config JSON Schema (see fields.ts for the mapping). */

import { useEffect, useId, useRef } from "react";

import type { JsonObject, JsonSchema, JsonValue } from "../api/types";
import { type FieldDescriptor, connectionProvider, describeFields, isShown } from "./fields";
import {
  ConnectionPicker,
  DurationPicker,
  EnumList,
  JsonEditor,
  KeyValue,
  RuleBuilder,
  SplitEditor,
  StringList,
  TemplateEditor,
} from "./widgets";

export interface FormContext {
  /** The problem reported for a config path ("rules.0.value"), or ""; `nested`: also under it. */
  problemAt: (path: string, nested?: boolean) => string;
  /** Field names for rules: contact properties, event data, earlier steps. */
  fieldNames: string[];
  /** Variables for `{{ }}` completion. */
  variables: string[];
  /** The config path the problems list asked to focus. */
  focusPath: string | null;
  focusAt: number;
}

const isObject = (value: JsonValue | undefined): value is JsonObject =>
  !!value && typeof value === "object" && !Array.isArray(value);

export function SchemaForm({
  schema,
  value,
  onChange,
  context,
  path = "",
}: {
  schema: JsonSchema;
  value: JsonObject;
  onChange: (value: JsonObject) => void;
  context: FormContext;
  path?: string;
}) {
  const fields = describeFields(schema);
  const set = (key: string, next: JsonValue | undefined) => {
    const copy = { ...value };
    if (next === undefined || (next === "" && !schema.required?.includes(key))) delete copy[key];
    else copy[key] = next;
    onChange(copy);
  };
  return (
    <div className="schema-form">
      {fields
        .filter((field) => isShown(field, schema, value))
        .map((field) => (
          <Field
            key={field.key}
            field={field}
            value={value[field.key]}
            onChange={(next) => set(field.key, next)}
            context={context}
            path={path ? `${path}.${field.key}` : field.key}
            provider={field.kind === "connection" ? connectionProvider(field, schema, value) : ""}
          />
        ))}
    </div>
  );
}

function Field({
  field,
  value,
  onChange,
  context,
  path,
  provider,
}: {
  field: FieldDescriptor;
  value: JsonValue | undefined;
  onChange: (value: JsonValue | undefined) => void;
  context: FormContext;
  path: string;
  /** For a connection field: whose connections to offer. */
  provider: string;
}) {
  const id = useId();
  const wrapper = useRef<HTMLDivElement>(null);
  const problem = context.problemAt(path);
  const nestedProblems = (sub: string) => context.problemAt(`${path}.${sub}`, true);
  const focused = context.focusPath !== null && (context.focusPath === path || context.focusPath.startsWith(`${path}.`));

  useEffect(() => {
    if (!focused || !wrapper.current) return;
    wrapper.current.scrollIntoView({ block: "center" });
    wrapper.current.querySelector<HTMLElement>("input, textarea, select")?.focus();
  }, [focused, context.focusAt]);

  const label = `${field.title}${field.required ? " *" : ""}`;
  const text = typeof value === "string" ? value : value === undefined || value === null ? "" : String(value);
  let control: React.ReactNode;
  switch (field.kind) {
    case "text":
      control = <input id={id} type="text" value={text} aria-invalid={!!problem || undefined} onChange={(event) => onChange(event.target.value)} />;
      break;
    case "textarea":
      control = <textarea id={id} rows={4} value={text} aria-invalid={!!problem || undefined} onChange={(event) => onChange(event.target.value)} />;
      break;
    case "template":
    case "template-area":
      control = (
        <TemplateEditor id={id} label={field.title} value={text} multiline={field.kind === "template-area"} variables={context.variables} invalid={!!problem} onChange={onChange} />
      );
      break;
    case "number":
    case "integer":
      control = (
        <input
          id={id}
          type="number"
          step={field.kind === "integer" ? 1 : "any"}
          value={typeof value === "number" ? value : ""}
          aria-invalid={!!problem || undefined}
          onChange={(event) => {
            const number = event.target.valueAsNumber;
            onChange(Number.isFinite(number) ? (field.kind === "integer" ? Math.round(number) : number) : undefined);
          }}
        />
      );
      break;
    case "select":
      control = (
        <select
          id={id}
          value={value === undefined ? "" : String(value)}
          aria-invalid={!!problem || undefined}
          onChange={(event) => {
            const option = field.options.find((candidate) => String(candidate.value) === event.target.value);
            onChange(option ? option.value : undefined);
          }}
        >
          {(value === undefined || !field.required) && <option value="">—</option>}
          {field.options.map((option) => (
            <option key={String(option.value)} value={String(option.value)}>
              {option.label}
            </option>
          ))}
        </select>
      );
      break;
    case "boolean":
      control = <input id={id} type="checkbox" checked={value === true} onChange={(event) => onChange(event.target.checked)} />;
      break;
    case "string-list":
      control = <StringList id={id} label={field.title} value={value} onChange={onChange} />;
      break;
    case "enum-list":
      control = <EnumList label={field.title} value={value} schema={field.schema} onChange={onChange} />;
      break;
    case "rules":
      control = <RuleBuilder id={id} label={field.title} value={value} schema={field.schema} fieldNames={context.fieldNames} problems={nestedProblems} onChange={onChange} />;
      break;
    case "duration":
      control = <DurationPicker id={id} label={field.title} value={value} schema={field.schema} onChange={onChange} />;
      break;
    case "split":
      control = <SplitEditor id={id} label={field.title} value={value} onChange={onChange} />;
      break;
    case "key-value":
      control = <KeyValue id={id} label={field.title} value={value} variables={context.variables} onChange={onChange} />;
      break;
    case "object":
      control = (
        <fieldset className="nested" id={id}>
          <SchemaForm schema={field.schema} value={isObject(value) ? value : {}} onChange={onChange} context={context} path={path} />
          {!field.required && isObject(value) && Object.keys(value).length > 0 && (
            <button type="button" className="secondary small" onClick={() => onChange(undefined)}>
              Clear {field.title.toLowerCase()}
            </button>
          )}
        </fieldset>
      );
      break;
    case "object-list": {
      const items = (Array.isArray(value) ? value : []) as JsonObject[];
      control = (
        <div className="object-list" id={id} role="group" aria-label={field.title}>
          {items.map((item, index) => (
            <fieldset key={index} className="nested">
              <legend>
                {field.schema.items?.title ?? "Item"} {index + 1}
              </legend>
              <SchemaForm
                schema={field.schema.items ?? {}}
                value={isObject(item) ? item : {}}
                onChange={(next) => onChange(items.map((other, position) => (position === index ? next : other)))}
                context={context}
                path={`${path}.${index}`}
              />
              <button type="button" className="secondary small" onClick={() => onChange(items.filter((_, position) => position !== index))}>
                Remove {index + 1}
              </button>
            </fieldset>
          ))}
          <button type="button" className="secondary small" onClick={() => onChange([...items, newItem(field.schema.items ?? {}, items.length)])}>
            + Add {(field.schema.items?.title ?? "item").toLowerCase()}
          </button>
        </div>
      );
      break;
    }
    case "text-or-json":
      control = <JsonEditor id={id} label={field.title} value={value} allowText variables={context.variables} onChange={onChange} />;
      break;
    case "connection":
      control = (
        <ConnectionPicker
          id={id}
          label={field.title}
          provider={provider}
          builtins={field.schema["x-builtin-options"] ?? []}
          value={value ?? (field.schema.default as JsonValue | undefined)}
          onChange={onChange}
        />
      );
      break;
    default:
      control = <JsonEditor id={id} label={field.title} value={value} allowText={false} onChange={onChange} />;
  }

  const labelled = !["rules", "split", "duration", "enum-list", "object-list", "key-value", "json", "object"].includes(field.kind);
  return (
    <div ref={wrapper} className={`field field-${field.kind} ${problem ? "invalid" : ""} ${focused ? "focused" : ""}`} data-field={path}>
      {labelled ? (
        <label htmlFor={id}>{label}</label>
      ) : (
        <span className="label" id={`${id}-label`}>
          {label}
        </span>
      )}
      {control}
      {field.description && field.kind !== "template" && field.kind !== "template-area" && <p className="hint">{field.description}</p>}
      {problem && (
        <p className="field-error" role="alert">
          {problem}
        </p>
      )}
    </div>
  );
}

/** A new list item with its schema's defaults; `handle` fields get a fresh short name. */
function newItem(schema: JsonSchema, index: number): JsonObject {
  const item: JsonObject = {};
  for (const [key, fieldSchema] of Object.entries(schema.properties ?? {})) {
    if (fieldSchema.default !== undefined) item[key] = structuredClone(fieldSchema.default);
    else if (key === "handle") item[key] = `path_${index + 1}`;
    else if (fieldSchema.type === "array") item[key] = [];
  }
  return item;
}
