/**
 * Headless Chromium for the browser tests: Debian's /usr/bin/chromium (or $CHROMIUM_PATH) driven by
 * playwright-core, with a fresh profile per launch and every background service that could reach
 * the network switched off, so whatever requests a page makes are the page's own.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { missingTool } from "../python-tools";
import { projectRoot } from "../notebooks/harness";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const screenshotDir = path.join(projectRoot, "test-output", "screenshots");

/** Why `test` cannot open a browser here (a message naming the install), or false; throws under CI. */
export function chromiumMissing(test: string): string | false {
  if (fs.existsSync(CHROMIUM)) return false;
  return missingTool(test, `Chromium (none at ${CHROMIUM})`, "sudo apt-get install chromium (Debian/Ubuntu), or set CHROMIUM_PATH to a Chromium or Chrome binary");
}

export const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running browser with its own fresh profile (--user-data-dir), removed on close. */
export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
