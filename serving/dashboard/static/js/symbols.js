// The watched symbols: picked by the user, kept for the tab (and in the URL hash, so a link
// opens the same view), each with its own card and stream.
import { el, clear, setText } from "./dom.js";
import { SymbolCard } from "./symbol_card.js";

const STORAGE = "online-learning.dashboard.symbols";
// As the stream accepts them (serving/streaming): AAA, BRK.B, EURUSD=X, ^GSPC, BTC-USD.
const SYMBOL = /^[A-Za-z0-9^][A-Za-z0-9._:^=-]{0,31}$/;
export const MAX_SYMBOLS = 20;

function fromHash() {
  const match = /(?:^|[#&])symbols=([^&]*)/.exec(location.hash);
  if (!match) return null;
  return decodeURIComponent(match[1]).split(",").map((s) => s.trim()).filter(Boolean);
}

function fromStorage() {
  try {
    return JSON.parse(sessionStorage.getItem(STORAGE) || "null");
  } catch {
    return null;
  }
}

export class SymbolBoard {
  constructor(api, { onDrift, onStreamState, onRefused }) {
    this.api = api;
    this.cards = new Map();
    this.handlers = { onDrift, onStreamState, onRefused };
    this.container = document.getElementById("symbols");
    this.empty = document.getElementById("symbols-empty");
    this.error = document.getElementById("symbol-error");
    this.input = document.getElementById("symbol-input");
    this.suggestions = document.getElementById("symbol-suggestions");
    this.form = document.getElementById("symbol-form");
    this._onSubmit = (event) => {
      event.preventDefault();
      this.add(this.input.value.trim(), { user: true });
    };
    this.form.addEventListener("submit", this._onSubmit);
    // Cards out of view are not drawn (10 symbols fill several screens).
    this.visibility = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          this.cards.get(entry.target.dataset.symbol)?.setVisible(entry.isIntersecting);
        }
      },
      { rootMargin: "200px" },
    );
  }

  start() {
    const initial = fromHash() ?? fromStorage() ?? [];
    for (const symbol of initial) this.add(symbol, { persist: false });
    this._persist();
  }

  add(symbol, { user = false, persist = true } = {}) {
    this.error.hidden = true;
    if (!symbol) return;
    if (!SYMBOL.test(symbol)) {
      if (user) this._error(`"${symbol}" is not a symbol: 1-32 letters, digits and . : ^ = -, not starting with one of . : = -.`);
      return;
    }
    if (this.cards.has(symbol)) {
      if (user) this._error(`${symbol} is already on the page.`);
      return;
    }
    if (this.cards.size >= MAX_SYMBOLS) {
      this._error(`At most ${MAX_SYMBOLS} symbols at a time: remove one first.`);
      return;
    }
    const card = new SymbolCard(this.api, symbol, { onRemove: (s) => this.remove(s), ...this.handlers });
    this.cards.set(symbol, card);
    this.container.append(card.root);
    card.mount();
    this.visibility.observe(card.root);
    this.empty.hidden = true;
    if (user) this.input.value = "";
    if (persist) this._persist();
  }

  remove(symbol) {
    const card = this.cards.get(symbol);
    if (!card) return;
    this.visibility.unobserve(card.root);
    card.destroy();
    this.cards.delete(symbol);
    this.handlers.onStreamState?.(symbol, "stopped", {});
    this.empty.hidden = this.cards.size > 0;
    this._persist();
  }

  stopAll() {
    this.visibility.disconnect();
    for (const card of this.cards.values()) card.destroy();
    this.cards.clear();
    this.form.removeEventListener("submit", this._onSubmit);
  }

  suggest(symbols) {
    const sorted = [...new Set(symbols)].filter((s) => SYMBOL.test(s)).sort();
    clear(this.suggestions);
    for (const s of sorted) this.suggestions.append(el("option", { value: s }));
  }

  _error(message) {
    this.error.hidden = false;
    setText(this.error, message);
  }

  _persist() {
    const list = [...this.cards.keys()];
    try {
      sessionStorage.setItem(STORAGE, JSON.stringify(list));
    } catch {
      /* not kept */
    }
    const hash = list.length ? `#symbols=${list.map(encodeURIComponent).join(",")}` : "";
    if (location.hash !== hash) history.replaceState(null, "", `${location.pathname}${location.search}${hash}`);
  }
}
