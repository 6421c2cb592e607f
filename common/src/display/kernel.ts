/**
 * Access to tslab's display API, loaded lazily so the kit also works outside a kernel (tests, the
 * CLI, plain node): there, `kernelDisplay()` is undefined and the helpers fall back to text.
 */

/** The subset of tslab's Display used here. */
export interface KernelDisplay {
  html(s: string): void;
  markdown(s: string): void;
  text(s: string): void;
  javascript(s: string): void;
}

interface TslabModule {
  display: KernelDisplay;
  newDisplay(): KernelDisplay;
}

/**
 * tslab, when this process is a tslab kernel: the kernel has then already loaded tslab's jupyter
 * module (the same file this package resolves, the project's own tslab), and its display hook is
 * set. Outside a kernel nothing is loaded.
 */
function load(): TslabModule | null {
  let jupyterPath: string;
  try {
    jupyterPath = require.resolve("tslab/dist/jupyter");
  } catch {
    return null;
  }
  const jupyter = require.cache[jupyterPath]?.exports as { lastWriteDisplayData?: unknown } | undefined;
  if (!jupyter?.lastWriteDisplayData) return null;
  return require("tslab") as TslabModule; // eslint-disable-line @typescript-eslint/no-require-imports
}

/** True when running inside a tslab kernel that can show rich output. */
export function inKernel(): boolean {
  return load() !== null;
}

/** tslab's display, or undefined outside a kernel. */
export function kernelDisplay(): KernelDisplay | undefined {
  return load()?.display;
}

/** A display entry that can be overwritten in place (for progress and live dashboards). */
export interface LiveDisplay {
  html(s: string): void;
  text(s: string): void;
  markdown(s: string): void;
}

/**
 * A display entry updated in place: in a kernel, tslab's `newDisplay()`; outside, the updates are
 * printed as text lines (HTML tags stripped).
 */
export function liveDisplay(): LiveDisplay {
  const t = load();
  if (t) return t.newDisplay();
  return {
    html: (s) => console.log(stripTags(s)),
    text: (s) => console.log(s),
    markdown: (s) => console.log(s),
  };
}

/** Shows HTML in the notebook (or its text outside a kernel). */
export function showHtml(html: string): void {
  const d = kernelDisplay();
  if (d) d.html(html);
  else console.log(stripTags(html));
}

/** Shows Markdown in the notebook (or prints it). */
export function showMarkdown(md: string): void {
  const d = kernelDisplay();
  if (d) d.markdown(md);
  else console.log(md);
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function stripTags(s: string): string {
  return s
    .replace(/<script[\s\S]*?<\/script>/gi, "")
    .replace(/<style[\s\S]*?<\/style>/gi, "")
    .replace(/<[^>]+>/g, " ")
    .replace(/[ \t]+/g, " ")
    .trim();
}
