// Redraws are coalesced: a frame only marks its views dirty, and each dirty view is drawn once
// per animation frame however many frames arrived in between (100 frames/s for 10 symbols
// become at most one redraw per chart per display refresh; none while the tab is hidden).

const pending = new Map();
let scheduled = false;

export const stats = {
  frames: 0, // stream frames handled
  redraws: 0, // view redraws actually performed
  flushes: 0, // animation frames that drew something
  maxFlushMs: 0,
  totalFlushMs: 0,
};

export function countFrame() {
  stats.frames += 1;
}

/** Draw `fn` once in the next animation frame; a later call with the same key replaces it. */
export function schedule(key, fn) {
  pending.set(key, fn);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(flush);
  }
}

export function cancel(key) {
  pending.delete(key);
}

function flush() {
  scheduled = false;
  const started = performance.now();
  const jobs = [...pending.values()];
  pending.clear();
  for (const fn of jobs) {
    try {
      fn();
      stats.redraws += 1;
    } catch (err) {
      console.error("dashboard redraw failed", err);
    }
  }
  const took = performance.now() - started;
  stats.flushes += 1;
  stats.totalFlushMs += took;
  if (took > stats.maxFlushMs) stats.maxFlushMs = took;
}

/**
 * Columns of a time series with a bound on their length, shaped as uPlot wants them
 * ([x, y1, y2, ...], same length). Old points are dropped in batches so that a push stays
 * O(1) amortised; the columns never hold more than `capacity + slack` points.
 */
export class SeriesBuffer {
  constructor(capacity, nSeries) {
    this.capacity = capacity;
    this.slack = Math.max(1, Math.floor(capacity / 4));
    this.columns = Array.from({ length: nSeries + 1 }, () => []);
  }

  get length() {
    return this.columns[0].length;
  }

  /** Append one row: x then one value per series (null for none). */
  push(x, values) {
    const cols = this.columns;
    cols[0].push(x);
    for (let i = 1; i < cols.length; i++) cols[i].push(values[i - 1] ?? null);
    if (cols[0].length > this.capacity + this.slack) {
      const drop = cols[0].length - this.capacity;
      for (const col of cols) col.splice(0, drop);
    }
  }

  /** Add a series (e.g. a component that just appeared), null for the rows before it. */
  addSeries() {
    this.columns.push(new Array(this.length).fill(null));
    return this.columns.length - 1;
  }
}
