/** The config as a notebook shows it: the settings table and any warnings. */
import { configSettingsRows, type Config } from "../config";
import { showMarkdown } from "./kernel";
import { showTable } from "./table";

/** Shows where the config came from, its warnings, and every setting (changed ones marked). */
export function showConfig(config: Config, options: { onlyChanged?: boolean } = {}): void {
  showMarkdown(`**Config** \`${config.path ?? "(from text)"}\` — ${config.local_mode ? "local mode" : "SageMaker mode"}`);
  for (const w of config.warnings) showMarkdown(`**Warning:** ${w}`);
  const rows = configSettingsRows(config)
    .filter((r) => !options.onlyChanged || !r.is_default)
    .map((r) => ({ key: r.key, value: r.value, default: r.is_default ? "" : "changed", meaning: r.description }));
  showTable(rows, { maxRows: 200 });
}
