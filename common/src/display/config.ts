/** The config as a notebook shows it: the settings table and any warnings. */
import { configSettingsRows, type Config } from "../config";
import { showMarkdown } from "./kernel";
import { showTable } from "./table";

/**
 * Shows where the config came from, its warnings, and its settings (changed ones marked): all of
 * them, or only the keys below the given `sections` (top-level names or dotted prefixes).
 */
export function showConfig(config: Config, options: { onlyChanged?: boolean; sections?: readonly string[] } = {}): void {
  showMarkdown(`**Config** \`${config.path ?? "(from text)"}\` — ${config.local_mode ? "local mode" : "SageMaker mode"}`);
  for (const w of config.warnings) showMarkdown(`**Warning:** ${w}`);
  const inSections = (key: string) => !options.sections || options.sections.some((s) => key === s || key.startsWith(`${s}.`));
  const rows = configSettingsRows(config)
    .filter((r) => (!options.onlyChanged || !r.is_default) && inSections(r.key))
    .map((r) => ({ key: r.key, value: r.value, default: r.is_default ? "" : "changed", meaning: r.description }));
  showTable(rows, { maxRows: 200 });
}
