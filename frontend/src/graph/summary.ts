/**
 * One-line node summaries from the catalogue's `summary` templates:
 * `{field}` or `{field:format}` reads config, `{a|b}` takes the first that is
 * set, a `[part]` is dropped when a field inside it is empty. Formats know the
 * shapes the schemas use (durations, rules, lists), never a node type.
 */

import type { JsonObject, JsonSchema, JsonValue, NodeTypeInfo } from "../api/types";

const OPERATOR_SYMBOLS: Record<string, string> = {
  eq: "=",
  ne: "≠",
  gt: ">",
  gte: "≥",
  lt: "<",
  lte: "≤",
};

const isEmpty = (value: JsonValue | undefined): boolean =>
  value === undefined ||
  value === null ||
  value === "" ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0);

export function formatDuration(value: JsonValue | undefined): string {
  if (!value || typeof value !== "object" || Array.isArray(value)) return "";
  const amount = value.amount;
  const unit = value.unit;
  if (typeof amount !== "number" || typeof unit !== "string") return "";
  const name = amount === 1 && unit.endsWith("s") ? unit.slice(0, -1) : unit;
  return `${amount} ${name}`;
}

export function shortField(field: string): string {
  return field.replace(/^contact\.properties\./, "").replace(/^contact\./, "");
}

function formatPlain(value: JsonValue | undefined): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return value.map(formatPlain).join(", ");
  if (typeof value === "object") {
    const duration = formatDuration(value);
    return duration || JSON.stringify(value);
  }
  return String(value);
}

function operatorLabel(op: string, ruleSchema: JsonSchema | undefined): string {
  if (OPERATOR_SYMBOLS[op]) return OPERATOR_SYMBOLS[op];
  const opSchema = ruleSchema?.properties?.op;
  const index = opSchema?.enum?.indexOf(op) ?? -1;
  return index >= 0 && opSchema?.enumNames?.[index] ? opSchema.enumNames[index] : op;
}

export function formatRule(rule: JsonValue, ruleSchema?: JsonSchema): string {
  if (!rule || typeof rule !== "object" || Array.isArray(rule)) return "";
  const field = typeof rule.field === "string" ? shortField(rule.field) : "?";
  const op = typeof rule.op === "string" ? rule.op : "eq";
  const value = formatPlain(rule.value);
  return [field, operatorLabel(op, ruleSchema), value].filter(Boolean).join(" ");
}

export function formatRules(rules: JsonValue | undefined, match: JsonValue | undefined, schema?: JsonSchema): string {
  if (!Array.isArray(rules) || rules.length === 0) return "";
  const joiner = match === "any" ? " or " : " and ";
  const shown = rules.slice(0, 2).map((rule) => formatRule(rule, schema?.items));
  const more = rules.length > 2 ? `${joiner}${rules.length - 2} more` : "";
  return shown.join(joiner) + more;
}

function formatValue(
  value: JsonValue | undefined,
  format: string,
  config: JsonObject,
  schema: JsonSchema | undefined,
): string {
  if (format !== "duration" && isEmpty(value)) return "";
  switch (format) {
    case "duration":
      return formatDuration(value);
    case "rules":
      return formatRules(value, config.match, schema);
    case "list":
      return Array.isArray(value) ? value.map(formatPlain).join(", ") : formatPlain(value);
    case "keys":
      return value && typeof value === "object" && !Array.isArray(value) ? Object.keys(value).join(", ") : "";
    case "enum": {
      const index = schema?.enum?.indexOf(value as JsonValue) ?? -1;
      return index >= 0 && schema?.enumNames?.[index] ? schema.enumNames[index].toLowerCase() : formatPlain(value);
    }
    case "handles":
      return Array.isArray(value)
        ? value
            .map((item) => (item && typeof item === "object" && !Array.isArray(item) ? formatPlain(item.handle) : ""))
            .filter(Boolean)
            .join(", ")
        : "";
    case "split":
      return Array.isArray(value)
        ? value
            .map((item) =>
              item && typeof item === "object" && !Array.isArray(item) ? `${formatPlain(item.handle)} ${formatPlain(item.percent)}%` : "",
            )
            .join(" / ")
        : "";
    default:
      return formatPlain(value);
  }
}

/** Fill one `{…}` placeholder; "" when its value is empty. */
function fill(placeholder: string, config: JsonObject, schema: JsonSchema): string {
  const [paths = "", format = ""] = placeholder.split(":");
  for (const path of paths.split("|")) {
    const value = path === "" ? config : config[path];
    const text = formatValue(value, format, config, path ? schema.properties?.[path] : schema);
    if (text) return text;
  }
  return "";
}

function render(template: string, config: JsonObject, schema: JsonSchema): { text: string; complete: boolean } {
  let complete = true;
  const text = template.replace(/\{([^}]*)\}/g, (_match, placeholder: string) => {
    const value = fill(placeholder, config, schema);
    if (!value) complete = false;
    return value;
  });
  return { text, complete };
}

/** The node's one-line summary, or "" when its config says too little to summarise. */
export function summarize(info: NodeTypeInfo | undefined, config: JsonObject | undefined): string {
  if (!info?.summary) return "";
  const values = config ?? {};
  let text = "";
  // A [part] stays only when all its fields are set; the rest must all be set.
  for (const segment of info.summary.matchAll(/\[([^\]]*)\]|([^[]+)/g)) {
    const optional = segment[1] !== undefined;
    const rendered = render(optional ? (segment[1] ?? "") : (segment[2] ?? ""), values, info.config_schema);
    if (rendered.complete) text += rendered.text;
    else if (!optional) return "";
  }
  text = text.trim();
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}
