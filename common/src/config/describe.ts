/** The schema as rows: the config reference (README) and the settings table (notebooks). */
import { CONFIG_SCHEMA, ConfigObjectNode, ConfigSchemaNode } from "./schema";
import { describeConfigAllowed } from "./load";

export interface ConfigReferenceRow {
  key: string;
  allowed: string;
  default: string;
  required: boolean;
  description: string;
}

function leaves(node: ConfigObjectNode, at: string[], out: [string[], Exclude<ConfigSchemaNode, ConfigObjectNode>][]) {
  for (const [k, child] of Object.entries(node.fields) as [string, ConfigSchemaNode][]) {
    if (child.kind === "object") leaves(child, [...at, k], out);
    else out.push([[...at, k], child]);
  }
  return out;
}

/** Every leaf key of the schema with what it allows, its default and its meaning. */
export function configReference(): ConfigReferenceRow[] {
  return leaves(CONFIG_SCHEMA, [], []).map(([keys, node]) => ({
    key: keys.join("."),
    allowed: describeConfigAllowed(node),
    default: node.default === undefined ? "" : JSON.stringify(node.default),
    required: !!node.required,
    description: node.description,
  }));
}

export interface ConfigSettingRow {
  key: string;
  value: string;
  is_default: boolean;
  description: string;
}

/** The values of a loaded config, one row per leaf key (for a notebook table). */
export function configSettingsRows(config: object): ConfigSettingRow[] {
  return leaves(CONFIG_SCHEMA, [], []).map(([keys, node]) => {
    let v: unknown = config;
    for (const k of keys) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
    return {
      key: keys.join("."),
      value: JSON.stringify(v ?? null),
      is_default: JSON.stringify(v ?? null) === JSON.stringify(node.default ?? null),
      description: node.description,
    };
  });
}
