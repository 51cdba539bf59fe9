// cryptoflow dashboard page: fetches /api/* (the server queries Elasticsearch) and draws with Plotly.js.
"use strict";

const FILTERS = ["symbol", "interval", "strategy", "source"];
const LAYOUT = { margin: { l: 55, r: 20, t: 60, b: 35 }, showlegend: true, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" } };
const CONFIG = { displaylogo: false, responsive: true };
let refreshMs = 5000;

function query() {
  const form = document.getElementById("filters");
  const params = new URLSearchParams();
  for (const name of FILTERS) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  return params.toString();
}

async function getJson(path) {
  const response = await fetch(path + (path.includes("?") ? "&" : "?") + query());
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function col(rows, key) { return rows.map((row) => row[key]); }

function draw(id, traces, layout) {
  Plotly.react(id, traces, Object.assign({}, LAYOUT, layout), CONFIG);
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Math.abs(value) >= 1000 ? value.toFixed(2) : value.toPrecision(6);
  return String(value);
}

function fillTable(id, rows, columns) {
  const table = document.getElementById(id);
  const head = "<tr>" + columns.map((c) => `<th>${c}</th>`).join("") + "</tr>";
  const body = rows.map((row) => "<tr>" + columns.map((c) => {
    const value = row[c];
    const cls = (c === "pnl" || c === "pnl_pct") && typeof value === "number" ? (value >= 0 ? "pos" : "neg") : "";
    const text = String(fmt(value)).replace(/[&<>]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;" }[ch]));
    return `<td class="${cls}">${text}</td>`;
  }).join("") + "</tr>").join("");
  table.innerHTML = head + (body || `<tr><td colspan="${columns.length}">none</td></tr>`);
}

function drawMarket(data) {
  const c = data.candles;
  const t = col(c, "time");
  const bull = c.filter((row) => row.engulfing > 0);
  const bear = c.filter((row) => row.engulfing < 0);
  draw("chart-price", [
    { type: "candlestick", name: "price", x: t, open: col(c, "open"), high: col(c, "high"), low: col(c, "low"),
      close: col(c, "close"), yaxis: "y2" },
    { type: "bar", name: "volume", x: t, y: col(c, "volume"), marker: { color: "#b0bec5" } },
    { type: "scatter", mode: "markers", name: "bullish engulfing", x: col(bull, "time"), y: col(bull, "low"),
      yaxis: "y2", marker: { symbol: "triangle-up", size: 9, color: "#1a7f37" } },
    { type: "scatter", mode: "markers", name: "bearish engulfing", x: col(bear, "time"), y: col(bear, "high"),
      yaxis: "y2", marker: { symbol: "triangle-down", size: 9, color: "#c62828" } },
  ], { title: { text: "Price and volume" }, xaxis: { rangeslider: { visible: false } },
       yaxis: { domain: [0, 0.22], title: { text: "volume" } }, yaxis2: { domain: [0.27, 1], title: { text: "price" } } });
  const band = (y, name) => ({ type: "scatter", mode: "lines", name, x: [t[0], t[t.length - 1]], y: [y, y],
                               line: { dash: "dash", width: 1, color: "#90a4ae" }, showlegend: false });
  draw("chart-rsi", [{ type: "scatter", mode: "lines", name: "RSI", x: t, y: col(c, "rsi") },
                     band(70, "70"), band(30, "30")], { title: { text: "RSI" }, yaxis: { range: [0, 100] } });
  draw("chart-macd", [
    { type: "bar", name: "histogram", x: t, y: col(c, "macd_hist"), marker: { color: "#90caf9" } },
    { type: "scatter", mode: "lines", name: "MACD", x: t, y: col(c, "macd") },
    { type: "scatter", mode: "lines", name: "signal", x: t, y: col(c, "macd_signal") },
  ], { title: { text: "MACD" } });
  draw("chart-cci", [{ type: "scatter", mode: "lines", name: "CCI", x: t, y: col(c, "cci") },
                     band(100, "+100"), band(-100, "-100")], { title: { text: "CCI" } });
}

function drawTrading(data) {
  const byStrategy = {};
  for (const point of data.cumulative_pnl) (byStrategy[point.strategy] ||= []).push(point);
  draw("chart-pnl", Object.entries(byStrategy).map(([name, points]) => ({
    type: "scatter", mode: "lines", line: { shape: "hv" }, name, x: col(points, "time"), y: col(points, "pnl"),
  })), { title: { text: "Cumulative PnL (quote)" } });
  const sides = ["long", "short"];
  draw("chart-winrate", [{
    type: "bar", name: "win rate", x: sides, y: sides.map((s) => (data.win_rate[s].rate ?? 0) * 100),
    text: sides.map((s) => `${data.win_rate[s].wins}/${data.win_rate[s].trades}`), textposition: "auto",
  }], { title: { text: "Win rate (%)" }, yaxis: { range: [0, 100] }, showlegend: false });
  draw("chart-pnl-dist", [{ type: "histogram", name: "trades", x: data.pnl_pct, nbinsx: 30 }],
       { title: { text: "PnL distribution (% per trade)" }, showlegend: false });
  fillTable("table-open", data.open_positions, ["symbol", "strategy", "source", "side", "quantity",
                                                "entry_price", "since"]);
  fillTable("table-trades", data.trades, ["time", "symbol", "strategy", "source", "leg", "side", "quantity",
                                          "price", "pnl", "pnl_pct", "exit_reason"]);
}

function drawRealtime(data) {
  fillTable("table-latest", data.latest, ["symbol", "interval", "time", "close", "rsi", "macd", "macd_hist",
                                          "cci"]);
  const bySymbol = {};
  for (const row of data.updates) (bySymbol[row.symbol] ||= []).push(row);
  const lines = (key) => Object.entries(bySymbol).map(([name, rows]) => ({
    type: "scatter", mode: "lines", name, x: col(rows, "time"), y: col(rows, key),
  }));
  draw("chart-rt-price", lines("close"), { title: { text: "Intrabar price" } });
  draw("chart-rt-rsi", lines("rsi"), { title: { text: "Intrabar RSI" }, yaxis: { range: [0, 100] } });
}

async function loadFilters() {
  const options = await getJson("/api/filters");
  const form = document.getElementById("filters");
  for (const name of FILTERS) {
    const select = form.elements[name];
    const current = select.value;
    select.innerHTML = '<option value="">all</option>' +
      (options[name] || []).map((v) => `<option>${String(v).replace(/[&<>"]/g, "")}</option>`).join("");
    select.value = current;
  }
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const [market, trading, realtime] = await Promise.all(
      ["/api/market", "/api/trading", "/api/realtime"].map(getJson));
    drawMarket(market);
    drawTrading(trading);
    drawRealtime(realtime);
    status.textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  } catch (error) {
    status.textContent = "waiting for data: " + error.message;
  }
}

async function start() {
  const config = await (await fetch("/api/config")).json();
  refreshMs = config.refresh_s * 1000;
  try { await loadFilters(); } catch (error) { /* shown by refresh() */ }
  document.getElementById("filters").addEventListener("change", refresh);
  await refresh();
  setInterval(refresh, refreshMs);
  setInterval(() => loadFilters().catch(() => {}), refreshMs * 6);
}

start();
