/**
 * A progress bar that redraws in place (tslab `newDisplay()`), for batches of interactions and
 * other long steps. Outside a kernel it prints one line when done (and one per quarter on long
 * runs), so tests and scripts stay quiet.
 */
import { escapeHtml, inKernel, liveDisplay, type LiveDisplay } from "./kernel";

export interface ProgressOptions {
  /** Shown left of the bar, e.g. "loop 3". */
  label?: string;
  /** What is counted (default "interactions"). */
  unit?: string;
  /** Minimum time between two redraws in milliseconds (default 150). */
  minIntervalMs?: number;
}

/** The HTML of a progress bar: label, bar, count, rate and an optional note. */
export function progressHtml(p: { label?: string; done: number; total: number; elapsedMs: number; unit?: string; note?: string; finished?: boolean }): string {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const pct = Math.round(frac * 1000) / 10;
  const secs = p.elapsedMs / 1000;
  const rate = secs > 0 ? p.done / secs : 0;
  const color = p.finished ? "#2e7d32" : "#1f77b4";
  const label = p.label ? `<span style="display:inline-block;min-width:7em;font-weight:600">${escapeHtml(p.label)}</span>` : "";
  return (
    `<div class="cbkit-progress" style="font-family:sans-serif;font-size:13px;display:flex;align-items:center;gap:0.6em;margin:2px 0">` +
    label +
    `<span style="display:inline-block;width:260px;height:12px;background:#e6e6e6;border-radius:6px;overflow:hidden">` +
    `<span style="display:block;height:100%;width:${pct}%;background:${color}"></span></span>` +
    `<span>${p.done.toLocaleString("en-US")} / ${p.total.toLocaleString("en-US")} ${escapeHtml(p.unit ?? "interactions")}</span>` +
    `<span style="color:#666">${secs.toFixed(1)} s · ${rate.toFixed(0)}/s</span>` +
    (p.note ? `<span style="color:#444">${escapeHtml(p.note)}</span>` : "") +
    `</div>`
  );
}

/** A live progress bar; call `tick()` per item (or `set()`), then `finish()`. */
export class Progress {
  readonly total: number;
  done = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private note = "";
  private readonly display: LiveDisplay | null;
  private readonly options: ProgressOptions;
  private quarter = 0;
  private finished = false;

  constructor(total: number, options: ProgressOptions = {}) {
    if (!(Number.isFinite(total) && total >= 0)) throw new RangeError(`Progress total must be a number >= 0, got ${total}`);
    this.total = total;
    this.options = options;
    this.display = inKernel() ? liveDisplay() : null;
    this.draw(true);
  }

  /** Elapsed milliseconds since the bar was created. */
  get elapsedMs(): number {
    return Date.now() - this.started;
  }

  /** Counts `n` more items; `note` replaces the text after the bar. */
  tick(n = 1, note?: string): void {
    this.set(this.done + n, note);
  }

  set(done: number, note?: string): void {
    this.done = done;
    if (note !== undefined) this.note = note;
    this.draw(false);
  }

  /** Final redraw (green bar); returns the elapsed seconds. */
  finish(note?: string): number {
    if (note !== undefined) this.note = note;
    this.finished = true;
    this.draw(true);
    return this.elapsedMs / 1000;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (this.display) {
      if (!force && now - this.lastDraw < (this.options.minIntervalMs ?? 150)) return;
      this.lastDraw = now;
      this.display.html(
        progressHtml({ label: this.options.label, done: this.done, total: this.total, elapsedMs: now - this.started, unit: this.options.unit, note: this.note, finished: this.finished }),
      );
      return;
    }
    // Outside a kernel: a line at the end, and at each quarter of runs that take a while.
    const q = this.total > 0 ? Math.floor((4 * this.done) / this.total) : 4;
    const slow = now - this.started > 2000;
    if (this.finished || (slow && q > this.quarter && q < 4)) {
      this.quarter = q;
      const secs = (now - this.started) / 1000;
      console.log(`${this.options.label ? `${this.options.label}: ` : ""}${this.done}/${this.total} ${this.options.unit ?? "interactions"} in ${secs.toFixed(1)} s${this.note ? ` — ${this.note}` : ""}`);
    }
  }
}
