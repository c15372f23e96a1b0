/**
 * JSON Schema → the side panel's form: which widget each config field gets.
 *
 * Plain schema types map to plain inputs; a field whose shape calls for a
 * purpose-made widget gets it (rules → rule builder, {amount, unit} → duration
 * picker, {handle, percent}[] → split editor, template text → template editor).
 * `x-widget` in a schema names a widget explicitly.
 */

import type { JsonObject, JsonSchema, JsonValue } from "../api/types";

export type FieldKind =
  | "text"
  | "textarea"
  | "template"
  | "template-area"
  | "number"
  | "integer"
  | "select"
  | "boolean"
  | "string-list"
  | "enum-list"
  | "rules"
  | "duration"
  | "split"
  | "object-list"
  | "key-value"
  | "object"
  | "text-or-json"
  | "connection"
  | "json";

export interface Option {
  value: string | number | boolean | null;
  label: string;
}

export interface FieldDescriptor {
  key: string;
  kind: FieldKind;
  title: string;
  description: string;
  required: boolean;
  schema: JsonSchema;
  options: Option[];
  /** For "object" and "object-list": the nested fields. */
  fields: FieldDescriptor[];
}

const WIDGETS = new Set<FieldKind>([
  "text",
  "textarea",
  "template",
  "template-area",
  "number",
  "integer",
  "select",
  "boolean",
  "string-list",
  "enum-list",
  "rules",
  "duration",
  "split",
  "object-list",
  "key-value",
  "object",
  "text-or-json",
  "connection",
  "json",
]);

const types = (schema: JsonSchema): string[] =>
  schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];

const has = (schema: JsonSchema | undefined, ...keys: string[]) =>
  !!schema?.properties && keys.every((key) => key in (schema.properties ?? {}));

export function optionsOf(schema: JsonSchema): Option[] {
  return (schema.enum ?? []).map((value, index) => ({
    value: value as Option["value"],
    label: schema.enumNames?.[index] ?? String(value),
  }));
}

/** Text a marketer writes with `{{ variables }}`: the schemas say so in their description. */
export function isTemplateText(schema: JsonSchema): boolean {
  return /template|\{\{/i.test(schema.description ?? "");
}

export function kindOf(schema: JsonSchema): FieldKind {
  const explicit = schema["x-widget"];
  if (typeof explicit === "string" && WIDGETS.has(explicit as FieldKind)) return explicit as FieldKind;
  if (schema.enum) return "select";
  const t = types(schema);
  if (t.length > 1) return t.includes("string") ? "text-or-json" : "json";
  switch (t[0]) {
    case "boolean":
      return "boolean";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "string": {
      const area = schema.format === "textarea";
      if (isTemplateText(schema)) return area ? "template-area" : "template";
      return area ? "textarea" : "text";
    }
    case "array": {
      const items = schema.items;
      if (has(items, "field", "op")) return "rules";
      if (has(items, "handle", "percent")) return "split";
      if (items?.enum) return "enum-list";
      if (types(items ?? {}).includes("string")) return "string-list";
      if (items?.properties) return "object-list";
      return "json";
    }
    case "object":
      if (has(schema, "amount", "unit")) return "duration";
      if (schema.properties && Object.keys(schema.properties).length) return "object";
      return "key-value";
    default:
      return "json";
  }
}

export function describeFields(schema: JsonSchema): FieldDescriptor[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([key, fieldSchema]) => {
    const kind = kindOf(fieldSchema);
    let nested: FieldDescriptor[] = [];
    if (kind === "object") nested = describeFields(fieldSchema);
    if (kind === "object-list" && fieldSchema.items) nested = describeFields(fieldSchema.items);
    return {
      key,
      kind,
      title: fieldSchema.title ?? key,
      description: fieldSchema.description ?? "",
      required: required.has(key),
      schema: fieldSchema,
      options: optionsOf(fieldSchema),
      fields: nested,
    };
  });
}

/** Split percentages: what is wrong with them, or null when they add up to 100. */
export function splitProblem(branches: unknown): string | null {
  if (!Array.isArray(branches) || branches.length < 2) return "A split needs at least two paths.";
  const total = branches.reduce(
    (sum: number, branch) => sum + (typeof branch?.percent === "number" ? branch.percent : 0),
    0,
  );
  if (Math.abs(total - 100) > 1e-9) return `The percentages add up to ${total}, not 100.`;
  return null;
}

/** A sibling's value as the form shows it: what is set, else the schema's default. */
function siblingValue(parent: JsonSchema, values: JsonObject, key: string): JsonValue | undefined {
  return key in values ? values[key] : parent.properties?.[key]?.default;
}

/** Whether a field is shown, given its siblings' values (`x-show-when`). */
export function isShown(field: FieldDescriptor, parent: JsonSchema, values: JsonObject): boolean {
  const when = field.schema["x-show-when"];
  if (!when) return true;
  const current = siblingValue(parent, values, when.field) ?? null;
  if (when.in && !when.in.includes(current)) return false;
  if (when.not_in && when.not_in.includes(current)) return false;
  return true;
}

/** The provider a connection field offers: fixed (`x-provider`) or a sibling's value. */
export function connectionProvider(field: FieldDescriptor, parent: JsonSchema, values: JsonObject): string {
  const from = field.schema["x-provider-from"];
  if (from) return String(siblingValue(parent, values, from) ?? "");
  return String(field.schema["x-provider"] ?? "");
}
