// uPlot charts that follow their container's width. uPlot draws on canvas and styles through
// the CSSOM only, so it runs under the page's strict Content-Security-Policy.
import uPlot from "../vendor/uplot/uPlot.esm.js";

export const PALETTE = [
  "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f",
];

export function color(i) {
  return PALETTE[i % PALETTE.length];
}

/** Series drawn as points only (realised outcomes). */
export function pointsOnly(label, stroke, scale) {
  return {
    label,
    scale,
    stroke,
    fill: stroke,
    paths: () => null,
    points: { show: true, size: 7, stroke, fill: stroke },
  };
}

function widthOf(container) {
  return Math.max(240, Math.floor(container.clientWidth || container.parentElement?.clientWidth || 480));
}

/**
 * A chart in `container`: `opts` are uPlot options without width; `data` its initial columns.
 * Returns {plot, setData, destroy}.
 */
export function makeChart(container, opts, data) {
  // A static legend (labels only): a live one re-renders on every cursor move of 30 charts.
  const plot = new uPlot(
    { width: widthOf(container), height: 170, legend: { live: false }, ...opts },
    data,
    container,
  );
  let lastWidth = widthOf(container);
  const observer = new ResizeObserver(() => {
    const width = widthOf(container);
    if (width !== lastWidth) {
      lastWidth = width;
      plot.setSize({ width, height: plot.height });
    }
  });
  observer.observe(container);
  return {
    plot,
    setData(columns) {
      plot.setData(columns);
    },
    destroy() {
      observer.disconnect();
      plot.destroy();
    },
  };
}

export const timeAxis = { stroke: "#6b7280", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" } };

export function valueAxis(scale, { side = 3, label = undefined, grid = true, digits = 2 } = {}) {
  return {
    scale,
    side,
    label,
    stroke: "#6b7280",
    size: digits > 2 ? 64 : 52,
    grid: { show: grid, stroke: "#eef0f3" },
    ticks: { stroke: "#e5e7eb" },
    values: (_u, splits) => splits.map((v) => (v === null ? "" : v.toFixed(digits))),
  };
}
