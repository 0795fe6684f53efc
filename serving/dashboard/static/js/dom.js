// Small DOM and formatting helpers. Text always goes in through textContent, never innerHTML:
// symbols, reasons and messages come from the network.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function setText(node, text) {
  const value = text === undefined || text === null ? "" : String(text);
  if (node.textContent !== value) node.textContent = value;
}

export function num(value, digits = 3) {
  if (value === undefined || value === null || !Number.isFinite(Number(value))) return "–";
  return Number(value).toFixed(digits);
}

export function pct(value, digits = 1) {
  if (value === undefined || value === null || !Number.isFinite(Number(value))) return "–";
  return `${(Number(value) * 100).toFixed(digits)} %`;
}

export function signedPct(value, digits = 2) {
  if (value === undefined || value === null || !Number.isFinite(Number(value))) return "–";
  const v = Number(value);
  return `${v > 0 ? "+" : ""}${v.toFixed(digits)} %`;
}

export function duration(seconds) {
  if (seconds === undefined || seconds === null || !Number.isFinite(Number(seconds))) return "–";
  const s = Number(seconds);
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

export function when(iso) {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const d = new Date(t);
  const ago = (Date.now() - t) / 1000;
  const clock = d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
  return ago >= 0 && ago < 86400 ? `${clock} (${duration(ago)} ago)` : clock;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}
