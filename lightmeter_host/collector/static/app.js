// The collector's page: the fleet table a page at a time from /api/meters?offset&limit&q (paged
// and searched on the server), its totals from /api/summary, the chain problems from /api/problems,
// and, for the selected meter, a bounded plot from /api/meters/{id}/plot drawn with uPlot. Every
// text from the database goes into the page through textContent or an attribute, never as markup.
"use strict";

(function () {
  const HOUR = 3600e3, DAY = 24 * HOUR;
  const PRESETS = { "24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "all": null };
  const CLOCK = { 0: ["synced", "ok"], 1: ["unsynced", "warn"], 2: ["since boot", "idle"] };
  const COLORS = { line: "#1d4ed8", bars: "rgba(20, 184, 166, 0.35)", barsEdge: "rgba(15, 118, 110, 0.6)" };

  const $ = (id) => document.getElementById(id);
  const PAGE_SIZE = 50;        // fleet rows per page
  const PLOT_POINTS = 1000;    // the most points one plot asks for
  const SEARCH_DELAY_MS = 250; // a search starts once typing pauses
  const state = { meters: [], total: 0, offset: 0, q: "", meter: null, preset: "all", from: null, to: null,
    res: null, obis: null };
  let plot = null;

  // What the page shows, for people and tests: the fleet page, the points drawn and the range.
  window.lightmeter = { plot: null, points: 0, count: 0, bucket: null, from: null, to: null, meter: null,
    obis: null, summary: null, summaryMs: null, drawnMs: null,
    fleet: { offset: 0, limit: PAGE_SIZE, q: "", total: 0, rows: 0, loads: 0, ms: null } };

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function showError(msg) {
    const e = $("error");
    e.textContent = msg || "";
    e.hidden = !msg;
  }

  async function getJSON(url) {
    const r = await fetch(url, { headers: { accept: "application/json" } });
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON: reported below */ }
    if (!r.ok) throw new Error((body && body.error) || ("HTTP " + r.status));
    return body;
  }

  // ---- formatting ----

  const pad = (n) => String(n).padStart(2, "0");
  function fmtTime(ms) {
    const d = new Date(ms);
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function fmtSpan(ms) {
    if (Math.abs(ms) < 59.5e3) return Math.round(Math.abs(ms) / 1000) + " s";
    const m = Math.round(Math.abs(ms) / 60e3);
    if (m < 60) return m + " min";
    if (m < 48 * 60) return Math.floor(m / 60) + " h " + (m % 60) + " min";
    return Math.round(m / 1440) + " d";
  }
  const num = new Intl.NumberFormat("en-US", { maximumFractionDigits: 6 });
  function fmtValue(v, unit) {
    if (v === null || v === undefined) return "–";
    return num.format(v) + (unit ? " " + unit : "");
  }
  function shortAddress(a) {
    a = String(a || "");
    return a.length > 14 ? a.slice(0, 6) + "…" + a.slice(-4) : a;
  }
  // datetime-local inputs hold local wall time without a zone.
  function toInput(ms) {
    if (ms === null) return "";
    return fmtTime(ms).replace(" ", "T");
  }
  function fromInput(text) {
    if (!text) return null;
    const ms = new Date(text).getTime();
    return Number.isFinite(ms) ? ms : NaN;
  }

  // ---- fleet table: one page at a time, searched on the server ----

  function pageQuery() {
    const q = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE_SIZE) });
    if (state.q) q.set("q", state.q);
    return "/api/meters?" + q;
  }

  let fleetSeq = 0;  // answers to an older search or page are dropped
  async function loadFleet() {
    const seq = ++fleetSeq;
    const res = await getJSON(pageQuery());
    if (seq !== fleetSeq) return;
    if (res.total > 0 && res.offset >= res.total) {  // the fleet shrank under this page
      state.offset = Math.max(0, Math.floor((res.total - 1) / PAGE_SIZE) * PAGE_SIZE);
      return loadFleet();
    }
    state.meters = res.meters;
    state.total = res.total;
    const body = $("fleet").tBodies[0];
    body.replaceChildren();
    res.meters.forEach((m, i) => {
      const tr = el("tr");
      tr.dataset.index = String(i);
      if (state.meter === m.meter_id) tr.classList.add("selected");

      const th = el("th"); th.scope = "row";
      const b = el("button", m.meter_id, "meter-link");
      b.type = "button";
      b.setAttribute("aria-pressed", state.meter === m.meter_id ? "true" : "false");
      b.addEventListener("click", () => selectMeter(m.meter_id));
      th.append(b);
      tr.append(th);

      const addr = el("td", shortAddress(m.address), "mono");
      addr.title = m.address || "";
      tr.append(addr);
      tr.append(el("td", fmtValue(m.last_value, m.last_unit), "num"));

      const t = el("td");
      if (m.last_ts === null || m.last_ts === undefined) t.textContent = "–";
      else if (m.last_clock === 2) {
        t.textContent = "+" + fmtSpan(m.last_ts) + " after boot";
        t.title = "the device had no wall-clock time yet";
      } else {
        t.append(el("span", fmtTime(m.last_ts)));
        t.append(el("span", " · " + fmtSpan(Date.now() - m.last_ts) + (m.last_ts > Date.now() ? " ahead" : " ago"), "muted"));
        t.title = new Date(m.last_ts).toISOString();
      }
      tr.append(t);

      const c = el("td");
      const [label, tone] = CLOCK[m.last_clock] || ["–", "idle"];
      c.append(el("span", label, "badge " + tone));
      tr.append(c);

      tr.append(el("td", num.format(m.verified), "num"));
      const rej = el("td", num.format(m.rejected), "num" + (m.rejected ? " bad" : ""));
      rej.title = (m.duplicates || 0) + " duplicate or replayed submissions besides";
      tr.append(rej);
      tr.append(el("td", num.format(m.gaps), "num" + (m.gaps ? " warnt" : "")));
      body.append(tr);
    });
    $("fleet-empty").hidden = res.total > 0 || !!state.q;
    $("fleet-none").hidden = res.total > 0 || !state.q;
    const first = res.total ? res.offset + 1 : 0, last = res.offset + res.meters.length;
    $("page-info").textContent = num.format(first) + "–" + num.format(last) + " of " + num.format(res.total) +
      (state.q ? " matching" : "");
    $("prev").disabled = res.offset === 0;
    $("next").disabled = last >= res.total;
    $("loaded").textContent = "Updated " + fmtTime(Date.now());
    const f = window.lightmeter.fleet;
    // ms: when this page of the fleet was shown, since navigation started (the benchmark's mark)
    Object.assign(f, { offset: res.offset, limit: res.limit, q: res.q, total: res.total,
      rows: res.meters.length, loads: f.loads + 1, ms: performance.now() });
  }

  async function loadSummary() {
    const s = await getJSON("/api/summary");
    $("fleet-summary").textContent = num.format(s.meters) + (s.meters === 1 ? " meter" : " meters") +
      " · " + num.format(s.verified) + " verified · " + num.format(s.rejected) + " rejected · " +
      num.format(s.gaps) + (s.gaps === 1 ? " gap" : " gaps");
    window.lightmeter.summary = s;
    window.lightmeter.summaryMs = performance.now();
  }

  function turnPage(step) {
    state.offset = Math.max(0, state.offset + step * PAGE_SIZE);
    loadFleet().catch((e) => showError("Fleet: " + e.message));
  }

  let searchTimer = null;
  function search(now) {
    clearTimeout(searchTimer);
    const run = () => {
      const q = $("q").value.trim();
      if (q === state.q) return;
      state.q = q;
      state.offset = 0;
      loadFleet().then(() => showError(""), (e) => showError("Fleet: " + e.message));
    };
    if (now) run(); else searchTimer = setTimeout(run, SEARCH_DELAY_MS);
  }

  async function loadProblems() {
    const { problems } = await getJSON("/api/problems");
    const body = $("problems-table").tBodies[0];
    body.replaceChildren();
    for (const p of problems) {
      const tr = el("tr");
      tr.append(el("td", p.block_number, "num"));
      tr.append(el("td", p.kind, "mono bad"));
      tr.append(el("td", p.reason));
      tr.append(el("td", p.collected_at ? fmtTime(p.collected_at) : "–"));
      body.append(tr);
    }
    $("problems").hidden = problems.length === 0;
    $("problems-summary").textContent = problems.length + (problems.length === 1 ? " problem" : " problems") +
      (problems.length >= 50 ? " (the latest 50)" : "");
  }

  // ---- one meter ----

  function selectMeter(id) {
    state.meter = id;
    state.obis = null;
    for (const tr of $("fleet").tBodies[0].rows) {
      const on = state.meters[Number(tr.dataset.index)].meter_id === id;
      tr.classList.toggle("selected", on);
      tr.querySelector("button").setAttribute("aria-pressed", on ? "true" : "false");
    }
    $("detail").hidden = false;
    $("detail-meter").textContent = id;
    // A link to this page with #meter=ID opens the same meter, on whatever page of the fleet.
    history.replaceState(null, "", "#meter=" + encodeURIComponent(id));
    $("detail-address").textContent = "";
    applyPreset("all");
  }

  function applyPreset(name) {
    state.preset = name;
    const span = PRESETS[name];
    const now = Date.now();
    state.from = span === null ? null : now - span;
    state.to = span === null ? null : now;
    $("from").value = toInput(state.from);
    $("to").value = toInput(state.to);
    markPreset();
    return loadReadings();
  }

  function markPreset() {
    for (const b of document.querySelectorAll("[data-preset]")) {
      b.setAttribute("aria-pressed", b.dataset.preset === state.preset ? "true" : "false");
    }
  }

  // One register's readings in the range, at most PLOT_POINTS of them: the server picks the
  // last reading of each time bucket past that (docs/collector.md), so the page's work and
  // transfer stay bounded whatever the meter's history.
  async function loadReadings() {
    const id = state.meter;
    const q = new URLSearchParams({ points: String(PLOT_POINTS) });
    if (state.from !== null) q.set("from", String(state.from));
    if (state.to !== null) q.set("to", String(state.to));
    if (state.obis) q.set("obis", state.obis);
    const url = "/api/meters/" + encodeURIComponent(id) + "/plot?" + q;
    $("plot-figure").setAttribute("aria-busy", "true");
    try {
      const res = await getJSON(url);
      if (id !== state.meter) return;  // another meter was selected meanwhile
      state.res = res;
      state.obis = res.obis;
      $("detail-address").textContent = res.meter.address || "";
      fillRegisters(res.registers);
      draw();
      showError("");
    } catch (e) {
      showError("Readings of " + id + ": " + e.message);
    } finally {
      $("plot-figure").removeAttribute("aria-busy");
    }
  }

  // OBIS value group D = 8 is a time integral (an energy register) — IEC 62056-61, also the
  // DLMS UA "Blue Book" (EN 62056-6-1) OBIS tables; its differences are the consumption.
  function cumulative(obis) { return /^\d+-\d+:\d+\.8\.\d+/.test(obis || ""); }

  function fillRegisters(registers) {
    const sel = $("obis");
    sel.replaceChildren();
    for (const r of registers) {
      const o = el("option", r.obis + " (" + num.format(r.count) + ")");
      o.value = r.obis;
      o.selected = r.obis === state.obis;
      sel.append(o);
    }
    sel.disabled = registers.length < 2;
  }

  function draw() {
    const res = state.res;
    // The server sends plottable readings only; those without a wall-clock time (since boot)
    // or a value (status bit 0, a meter failure) are counted in the caption.
    const timed = res.readings, failed = res.failed, untimed = res.untimed;
    const xs = [], ys = [], ds = [];
    // Bucketed, each point is the last reading of its bucket: the first bar runs from the range's
    // first reading, so the bars add up to the consumption over the range.
    const start = res.first ? res.first.value : null;
    let prev = res.bucket_ms !== null ? start : null;
    for (const r of timed) {
      xs.push(r.ts / 1000);
      ys.push(r.value);
      ds.push(prev === null || r.value === null ? null : r.value - prev);
      prev = r.value;
    }
    const unit = timed.length ? timed[timed.length - 1].unit || "" : "";
    // An open range: the inputs show where the data starts and ends.
    if (state.from === null) $("from").value = timed.length ? toInput(timed[0].ts) : "";
    if (state.to === null) $("to").value = timed.length ? toInput(timed[timed.length - 1].ts) : "";
    const energy = cumulative(state.obis);

    const fig = $("plot-figure");
    fig.dataset.points = String(xs.length);
    fig.dataset.from = state.from === null ? "" : String(state.from);
    fig.dataset.to = state.to === null ? "" : String(state.to);
    fig.dataset.obis = state.obis || "";
    Object.assign(window.lightmeter, { points: xs.length, from: state.from, to: state.to,
      meter: state.meter, obis: state.obis, count: res.count, bucket: res.bucket_ms });

    if (plot) { plot.destroy(); plot = null; }
    window.lightmeter.plot = null;
    const cap = $("plot-caption");
    cap.replaceChildren();
    if (!xs.length) {
      cap.append(el("span", untimed + failed ? "No reading in this range has a wall-clock time and a value."
        : "No readings in this range.", "empty"));
      notes(cap, untimed, failed);
      return;
    }

    const series = [{}, {
      label: (energy ? "register " : "") + state.obis + (unit ? " (" + unit + ")" : ""),
      stroke: COLORS.line, width: 2, scale: "v",
      value: (u, v) => v === null ? "–" : num.format(v) + (unit ? " " + unit : ""),
      points: { show: xs.length <= 200, size: 5, fill: COLORS.line },
    }];
    const axes = [
      { stroke: "#475569", grid: { stroke: "#e2e8f0" }, ticks: { stroke: "#cbd5e1" } },
      { scale: "v", label: energy ? "register" + (unit ? " (" + unit + ")" : "") : unit,
        stroke: "#1e3a8a", grid: { stroke: "#e2e8f0" }, ticks: { stroke: "#cbd5e1" }, size: 70 },
    ];
    const data = [xs, ys];
    if (energy) {
      series.push({
        label: "consumption per interval" + (unit ? " (" + unit + ")" : ""),
        scale: "d", fill: COLORS.bars, stroke: COLORS.barsEdge, width: 1,
        paths: uPlot.paths.bars({ size: [0.7, 24] }), points: { show: false },
        value: (u, v) => v === null ? "–" : num.format(v) + (unit ? " " + unit : ""),
      });
      axes.push({ scale: "d", side: 1, label: "per interval" + (unit ? " (" + unit + ")" : ""),
        stroke: "#115e59", grid: { show: false }, ticks: { stroke: "#cbd5e1" }, size: 70 });
      data.push(ds);
    }
    const box = $("plot");
    plot = new uPlot({
      width: Math.max(320, box.clientWidth), height: 340,
      scales: { x: { time: true }, d: { range: (u, lo, hi) => [Math.min(0, lo), Math.max(hi, 0) * 1.1 || 1] } },
      series, axes, cursor: { drag: { x: true, y: false } }, legend: { live: true },
    }, data, box);
    window.lightmeter.plot = plot;
    window.lightmeter.drawnMs = performance.now();

    cap.append(el("strong", num.format(res.count) + (res.count === 1 ? " reading" : " readings")));
    cap.append(el("span", " of " + state.obis + " · " + fmtTime(timed[0].ts) + " to " +
      fmtTime(timed[timed.length - 1].ts)));
    if (res.bucket_ms !== null) {
      cap.append(el("span", " · drawn as " + num.format(xs.length) + " points, one per " + fmtSpan(res.bucket_ms) +
        " (its last reading" + (energy ? "; bars: consumption over it" : "") + ")", "muted"));
    }
    if (energy && res.count > 1) {
      cap.append(el("span", " · consumed in range: " + fmtValue(ys[ys.length - 1] - (start === null ? ys[0] : start), unit)));
    }
    notes(cap, untimed, failed);
  }

  function notes(cap, untimed, failed) {
    if (untimed > 0) {
      cap.append(el("span", " · " + untimed + " without wall-clock time (since boot) not plotted", "muted"));
    }
    if (failed > 0) {
      cap.append(el("span", " · " + failed + " flagged as meter failures not plotted", "warn"));
    }
  }

  // ---- wiring ----

  function init() {
    $("refresh").addEventListener("click", () => {
      Promise.all([loadFleet(), loadSummary(), loadProblems()])
        .then(() => state.meter !== null ? loadReadings() : null)
        .then(() => showError(""), (e) => showError("Fleet: " + e.message));
    });
    $("prev").addEventListener("click", () => turnPage(-1));
    $("next").addEventListener("click", () => turnPage(1));
    $("q").addEventListener("input", () => search(false));
    $("fleet-search").addEventListener("submit", (ev) => { ev.preventDefault(); search(true); });
    for (const b of document.querySelectorAll("[data-preset]")) {
      b.addEventListener("click", () => applyPreset(b.dataset.preset));
    }
    $("range").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = fromInput($("from").value), t = fromInput($("to").value);
      if (Number.isNaN(f) || Number.isNaN(t)) { showError("From and To must be dates and times."); return; }
      if (f !== null && t !== null && f > t) { showError("From is after To."); return; }
      state.from = f;
      // The input shows minutes: "to 10:00" includes readings up to 10:00:59.999.
      state.to = t === null ? null : t + 60e3 - 1;
      state.preset = null;
      markPreset();
      loadReadings();
    });
    $("obis").addEventListener("change", (ev) => { state.obis = ev.target.value; loadReadings(); });
    window.addEventListener("resize", () => {
      if (plot) plot.setSize({ width: Math.max(320, $("plot").clientWidth), height: 340 });
    });
    loadFleet().catch((e) => showError("Fleet: " + e.message));
    loadSummary().catch((e) => showError("Summary: " + e.message));
    loadProblems().catch((e) => showError("Problems: " + e.message));
    const m = /^#meter=(.*)$/.exec(location.hash);
    let id = null;
    try { id = m ? decodeURIComponent(m[1]) : null; } catch (_) { /* a mangled link: no meter */ }
    if (id !== null) selectMeter(id);
  }

  init();
  if (typeof uPlot === "undefined") showError("uPlot did not load: plots are unavailable.");
})();
