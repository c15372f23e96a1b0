/** The server's node catalogue, indexed; the only node knowledge the canvas has. */

import type { JsonObject, JsonValue, NodeTypeInfo } from "../api/types";

export type Catalogue = Map<string, NodeTypeInfo>;

export function indexCatalogue(types: NodeTypeInfo[]): Catalogue {
  return new Map(types.map((info) => [info.type, info]));
}

/** How a category looks: the one thing about node types the canvas decides itself. */
export interface CategoryLook {
  title: string;
  color: string;
  icon: string;
  order: number;
}

const LOOKS: Record<string, CategoryLook> = {
  trigger: { title: "Triggers", color: "#2f6f5e", icon: "⚡", order: 0 },
  condition: { title: "Conditions", color: "#7b5ea7", icon: "◇", order: 1 },
  wait: { title: "Waits", color: "#b7791f", icon: "◴", order: 2 },
  action: { title: "Actions", color: "#2b6cb0", icon: "▶", order: 3 },
  flow: { title: "Flow", color: "#4a5568", icon: "■", order: 4 },
};

export function categoryLook(category: string): CategoryLook {
  return (
    LOOKS[category] ?? {
      title: category.charAt(0).toUpperCase() + category.slice(1),
      color: "#4a5568",
      icon: "●",
      order: 99,
    }
  );
}

/** The catalogue grouped by category, categories in their look's order. */
export function groupByCategory(types: NodeTypeInfo[]): [string, NodeTypeInfo[]][] {
  const groups = new Map<string, NodeTypeInfo[]>();
  for (const info of types) {
    const list = groups.get(info.category) ?? [];
    list.push(info);
    groups.set(info.category, list);
  }
  return [...groups.entries()].sort(
    ([a], [b]) => categoryLook(a).order - categoryLook(b).order || a.localeCompare(b),
  );
}

/** Values at a path such as "branches[].handle" inside a config. */
export function valuesAtPath(config: JsonValue | undefined, path: string): JsonValue[] {
  let current: JsonValue[] = config === undefined ? [] : [config];
  for (const part of path.split(".")) {
    const many = part.endsWith("[]");
    const key = many ? part.slice(0, -2) : part;
    const next: JsonValue[] = [];
    for (const value of current) {
      if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
      const found = value[key];
      if (found === undefined) continue;
      if (many) {
        if (Array.isArray(found)) next.push(...found);
      } else {
        next.push(found);
      }
    }
    current = next;
  }
  return current;
}

/** The output handles a node has with this config (switch and split read theirs from it). */
export function handlesFor(info: NodeTypeInfo | undefined, config: JsonObject | undefined): string[] {
  if (!info) return ["out"];
  if (!info.handles_from) return info.handles;
  const fromConfig = valuesAtPath(config ?? {}, info.handles_from).filter(
    (value): value is string => typeof value === "string" && value !== "",
  );
  const derived = fromConfig.length ? fromConfig : info.handles.filter((h) => !info.fixed_handles?.includes(h));
  return [...new Set([...derived, ...(info.fixed_handles ?? [])])];
}

export const isTrigger = (info: NodeTypeInfo | undefined) => info?.category === "trigger";

/** A config filled with the schema's defaults, so a dropped node starts sensible. */
export function defaultConfig(info: NodeTypeInfo): JsonObject {
  const config: JsonObject = {};
  for (const [key, schema] of Object.entries(info.config_schema.properties ?? {})) {
    if (schema.default !== undefined) {
      config[key] = structuredClone(schema.default);
    } else if (schema.type === "object" && schema.properties && info.config_schema.required?.includes(key)) {
      const nested: JsonObject = {};
      for (const [inner, innerSchema] of Object.entries(schema.properties)) {
        if (innerSchema.default !== undefined) nested[inner] = structuredClone(innerSchema.default);
      }
      config[key] = nested;
    }
  }
  return config;
}
