// The adaptation dashboard: asks for an API key, then shows the integration's success metrics,
// the live streams of the chosen symbols, drift per model and symbol, the models and their
// updates, and the online sessions.
// It talks only to the API that served it (HTTP under /api/v1 and its WebSocket streams).
import { Api, ApiError, keyStore } from "./api.js";
import { Banner } from "./banner.js";
import { setText } from "./dom.js";
import { DriftPanel } from "./drift.js";
import { ModelsPanel } from "./models.js";
import { stats } from "./render.js";
import { SessionsPanel } from "./sessions.js";
import { SuccessPanel } from "./success.js";
import { SymbolBoard } from "./symbols.js";

const root = document.querySelector('meta[name="api-root"]')?.content ?? "";
const gate = document.getElementById("key-gate");
const form = document.getElementById("key-form");
const input = document.getElementById("key-input");
const keyError = document.getElementById("key-error");
const app = document.getElementById("app");
const whoami = document.getElementById("whoami");
const banner = new Banner(document.getElementById("banner"));

let running = null; // the panels of the open dashboard
let memoryKey = null; // when sessionStorage is unavailable

// Exposed read-only for the browser tests and the responsiveness benchmark.
window.dashboardStats = stats;

function showGate(message) {
  app.hidden = true;
  whoami.hidden = true;
  gate.hidden = false;
  keyError.hidden = !message;
  setText(keyError, message || "");
  input.value = "";
  input.focus();
}

async function open(key, { fromStorage = false } = {}) {
  const hooks = {
    onUnauthorized: (message) => refuse(`The API refused the key: ${message}. It may have been revoked; enter a valid key.`),
    onReachable: (ok, message) => banner.api(ok, message),
  };
  const api = new Api(root, key, hooks);
  let me;
  try {
    me = await api.get("/auth/me", { quiet401: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      keyStore.clear();
      showGate(
        fromStorage
          ? `The key kept for this tab is no longer accepted (${err.message}). Enter a valid key.`
          : `This key was refused by the API (401: ${err.message}). Check the key: make run prints the development key, ONLINE_LEARNING_API_KEYS lists the others.`,
      );
      return;
    }
    showGate(`Cannot check the key: ${err.message} Try again when the API is up.`);
    return;
  }
  const scopes = Array.isArray(me?.scopes) ? me.scopes : [];
  if (!scopes.includes("predict") && !scopes.includes("admin")) {
    keyStore.clear();
    showGate(
      `This key is valid but has only the ${scopes.join(", ") || "no"} scope: the dashboard reads ` +
        "models, drift, sessions and streams, which need a key with the predict (or admin) scope.",
    );
    return;
  }
  keyStore.set(key);
  memoryKey = key;
  gate.hidden = true;
  keyError.hidden = true;
  app.hidden = false;
  const isAdmin = scopes.includes("admin");
  whoami.hidden = false;
  setText(document.getElementById("whoami-text"), `key ${me?.fingerprint ?? "?"} · ${scopes.join(", ") || "no scopes"}`);
  document.body.dataset.admin = String(isAdmin);
  start(api, { isAdmin });
}

function start(api, { isAdmin }) {
  const drift = new DriftPanel(api);
  const board = new SymbolBoard(api, {
    onDrift: (frame) => drift.frame(frame),
    onStreamState: (symbol, state, info) => banner.stream(symbol, state, info),
    onRefused: (message) => refuse(`The stream refused the key: ${message}`),
  });
  const sessions = new SessionsPanel(api, {
    onSymbols: (symbols) => board.suggest([...symbols, ...drift.symbols]),
  });
  const models = new ModelsPanel(api, { isAdmin });
  const success = new SuccessPanel(api);
  const ready = setInterval(() => readiness(api), 15000);
  running = { api, drift, board, sessions, models, success, ready };
  readiness(api);
  success.start();
  board.start();
  drift.start();
  sessions.start();
  models.start();
}

async function readiness(api) {
  const node = document.getElementById("ready");
  try {
    const response = await fetch(`${root}/api/v1/ready`, { cache: "no-store", credentials: "omit" });
    const body = await response.json().catch(() => ({}));
    const champions = body?.champions ? Object.entries(body.champions).map(([m, v]) => `${m} v${v}`).join(", ") : "";
    setText(node, response.ok ? `ready · ${champions}` : `not ready (${body?.detail ?? response.status})`);
    node.className = response.ok ? "ready ok" : "ready bad";
    banner.api(true);
  } catch {
    setText(node, "API unreachable");
    node.className = "ready bad";
  }
}

function stop() {
  if (!running) return;
  const { drift, board, sessions, models, success, ready } = running;
  running = null;
  clearInterval(ready);
  board.stopAll();
  drift.stop();
  sessions.stop();
  models.stop();
  success.stop();
  banner.reset();
  for (const id of ["symbols", "drift-rows", "drift-log", "models", "sessions-rows"]) {
    document.getElementById(id).replaceChildren();
  }
}

function refuse(message) {
  if (!running) return;
  stop();
  keyStore.clear();
  memoryKey = null;
  showGate(message);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const key = input.value.trim();
  if (!key) {
    showGate("Enter an API key.");
    return;
  }
  open(key);
});

document.getElementById("forget-key").addEventListener("click", () => {
  stop();
  keyStore.clear();
  memoryKey = null;
  showGate("");
});

const stored = keyStore.get() ?? memoryKey;
if (stored) open(stored, { fromStorage: true });
else showGate("");
