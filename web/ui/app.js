/* The mapstatd dashboard: the kernels on a time line, what /report flags, the forecast, and the
 * figures of one identity and of the system over time, with every kernel change marked. It
 * reads the daemon's own JSON API; charts are dygraphs (Debian's libjs-dygraphs). */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const MARK_COLOR = "#d62728";
  /* Series colors: none of them red, the color of the kernel-change marks. */
  const COLORS = {
    Rss: "#1f77b4", Pss: "#2ca02c", Shared: "#9467bd", Private: "#e6a817",
    "Truth Pss": "#2ca02c", "Truth Uss": "#17becf", "Forecast Pss": "#7f7f7f",
    "Forecast Shared": "#9467bd", "Forecast Private": "#e6a817",
    anon: "#1f77b4", file: "#2ca02c", shared_file: "#8c564b", shmem: "#9467bd",
    hugetlb: "#17becf", AnonPages: "#1f77b4", Mapped: "#2ca02c", Shmem: "#9467bd",
    usage: "#7f7f7f", file_mapped: "#2ca02c", anon_thp: "#17becf",
  };
  const POINTS_WANTED = 600;   // per chart: about one per two pixels of a laptop screen

  /* What the page knows, also for whoever inspects it (the browser tests do). */
  const state = {
    epochs: [],
    charts: {},        // name → Dygraph
    marks: {},         // name → [{time: ms, release, mapcount_mode}], the kernel changes drawn
    selected: null,    // identity id
    cgroup: null,      // the cgroup charted
    ready: null,       // a promise: everything drawn (or failed)
    errors: [],
  };
  window.mapstatd = state;

  async function getJSON(path) {
    const r = await fetch(path, { headers: { Accept: "application/json" } });
    let body = null;
    try {
      body = await r.json();
    } catch (e) {
      body = null;
    }
    if (!r.ok)
      throw new Error(path + ": " + ((body && body.error) || r.status + " " + r.statusText));
    return body;
  }

  /* An element with attributes and children (strings become text). */
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false)
        continue;
      if (k === "class")
        e.className = v;
      else
        e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat())
      if (c !== null && c !== undefined)
        e.append(typeof c === "string" ? document.createTextNode(c) : c);
    return e;
  }

  function setStatus(text, isError) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("error", !!isError);
  }

  const shortMode = (m) => (m === "page_mapcount" ? "per-page mapcount"
                           : m === "no_page_mapcount" ? "per-folio mapcount" : "mode unknown");
  const mib = (kb) => (kb === null || kb === undefined ? null : kb / 1024);
  const fmtMiB = (kb) => (kb === null || kb === undefined ? "–"
                         : (kb / 1024).toFixed(kb >= 102400 ? 0 : 1) + " MiB");
  const ms = (iso) => (iso ? Date.parse(iso) : null);

  function identityName(i) {
    return i.comm + (i.unit ? " · " + i.unit : "");
  }

  /* ---- the kernels ---- */

  function drawTimeline(epochs) {
    const line = $("timeline");
    line.replaceChildren();
    const sampled = epochs.filter((e) => e.first_sweep);
    const start = Math.min(...sampled.map((e) => ms(e.first_sweep)));
    const end = Math.max(...sampled.map((e) => ms(e.last_sweep)));
    const span = Math.max(end - start, 1);
    /* Each block as wide as its share of the time sampled, and never too narrow to read. */
    const shares = sampled.map((e) => Math.max((ms(e.last_sweep) - ms(e.first_sweep)) / span,
                                               0.08));
    const total = shares.reduce((a, b) => a + b, 0);
    for (const [i, e] of sampled.entries()) {
      const share = shares[i] / total;
      const label = "Epoch " + e.id + ": " + e.release + ", " + shortMode(e.mapcount_mode) +
        ", " + e.sweeps + " sweeps from " + new Date(ms(e.first_sweep)).toLocaleString() +
        " to " + new Date(ms(e.last_sweep)).toLocaleString();
      line.append(h("div", { class: "epoch " + (e.mapcount_mode || "unknown"), role: "listitem",
                             title: label, "aria-label": label,
                             style: "flex-grow:" + share.toFixed(3) },
                    h("strong", {}, e.release),
                    h("span", {}, shortMode(e.mapcount_mode)),
                    h("span", {}, new Date(ms(e.first_sweep)).toLocaleDateString())));
    }
  }

  /* ---- the report ---- */

  /* The flagged figures of a comparison, sides named before/after or today/forecast:
   * sizes, and for exclusivity (a share of present pages) the percentages. */
  function figuresList(metrics, before, after) {
    return h("ul", {}, Object.entries(metrics).filter(([, m]) => m.flagged).map(([name, m]) =>
      h("li", {}, name + " " + (name.startsWith("Exclusive")
        ? (100 * m[before + "_ratio"]).toFixed(1) + "% → " +
          (100 * m[after + "_ratio"]).toFixed(1) + "%"
        : fmtMiB(m[before + "_kb"]) + " → " + fmtMiB(m[after + "_kb"])))));
  }

  /* A row that charts what it shows when clicked or on Enter: an identity, or a cgroup. */
  function selectableRow(id, cells, what) {
    const cgroup = what === "cgroup";
    const row = h("tr", { tabindex: "0", "data-identity": cgroup ? null : String(id),
                          "data-cgroup": cgroup ? String(id) : null,
                          "aria-label": "Chart " + (cgroup ? "cgroup " : "identity ") + id },
                  cells);
    const pick = () => (cgroup ? selectCgroup(id, true) : select(id, true));
    row.addEventListener("click", pick);
    row.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") {
        ev.preventDefault();
        pick();
      }
    });
    return row;
  }

  function identityCell(i) {
    return h("td", {}, identityName(i), h("span", { class: "cmd" }, i.cmdline || i.key));
  }

  function drawReport(report) {
    const body = $("flagged").tBodies[0];
    body.replaceChildren();
    const b = report.baseline, c = report.candidate;
    $("flagged").hidden = !b || !c || report.flagged.length === 0;
    if (!b || !c) {
      $("report-summary").textContent = report.message ||
        "Nothing to compare yet: mapstatd compares two kernels once it has sampled both.";
    } else {
      $("report-summary").textContent = report.flagged.length + " of " + report.compared +
        " identities moved from " + b.release + " (" + shortMode(b.mapcount_mode) + ") to " +
        c.release + " (" + shortMode(c.mapcount_mode) + ").";
    }
    for (const f of report.flagged)
      body.append(selectableRow(f.identity.id, [
        identityCell(f.identity),
        h("td", {}, h("span", { class: "kind " + f.kind }, f.kind)),
        h("td", {}, figuresList(f.metrics, "before", "after")),
        h("td", {}, h("ul", {}, f.reasons.map((r) => h("li", {}, r)))),
      ]));
    const sys = report.system || { flagged: [] };
    $("system-shift").textContent = sys.flagged.length
      ? "System figures that moved: " + sys.flagged.join(", ") + "."
      : "";
  }

  function drawForecast(fc) {
    const body = $("forecast-table").tBodies[0];
    body.replaceChildren();
    if (!fc.available) {
      $("forecast-summary").textContent = fc.message;
      $("forecast-table").hidden = true;
      return;
    }
    $("forecast-table").hidden = false;
    $("forecast-summary").textContent = fc.identities.length + " of " + fc.compared +
      " identities would report different figures on a NO_PAGE_MAPCOUNT kernel.";
    for (const f of fc.identities) {
      body.append(selectableRow(f.identity.id, [
        identityCell(f.identity),
        h("td", {}, figuresList(f.metrics, "today", "forecast")),
        h("td", {}, h("ul", {}, f.reasons.map((r) => h("li", {}, r)))),
      ]));
    }
  }

  /* ---- memory cgroups ---- */

  const cgroupName = (c) => c.unit || c.path;

  function drawCgroups(report, list) {
    const body = $("cgroup-flagged").tBodies[0];
    body.replaceChildren();
    const cg = report.cgroups || { compared: 0, flagged: [] };
    $("cgroup-flagged").hidden = cg.flagged.length === 0;
    $("cgroups-summary").textContent = (report.baseline && report.candidate
      ? cg.flagged.length + " of " + cg.compared + " memory cgroups moved across the kernel " +
        "change (memory.stat, as a share of each cgroup's usage). "
      : "") + list.total + " memory cgroups in the last sweep.";
    for (const f of cg.flagged)
      body.append(selectableRow(f.cgroup.id, [
        h("td", {}, cgroupName(f.cgroup), h("span", { class: "cmd" }, f.cgroup.path)),
        h("td", {}, figuresList(f.metrics, "before", "after")),
        h("td", {}, h("ul", {}, f.reasons.map((r) => h("li", {}, r)))),
      ], "cgroup"));

    const sel = $("cgroup-select");
    sel.replaceChildren();
    const seen = new Set();
    const add = (c, group) => {
      if (seen.has(c.id))
        return;
      seen.add(c.id);
      group.append(h("option", { value: String(c.id) }, cgroupName(c) +
                     (c.unit ? " — " + c.path : "")));
    };
    const flagged = h("optgroup", { label: "Flagged" });
    cg.flagged.forEach((f) => add(f.cgroup, flagged));
    const largest = h("optgroup", { label: "Largest by usage" });
    list.cgroups.forEach((c) => add(c.cgroup, largest));
    for (const g of [flagged, largest])
      if (g.children.length)
        sel.append(g);
    sel.onchange = () => selectCgroup(Number(sel.value), true);
    return cg.flagged.length ? cg.flagged[0].cgroup.id
      : list.cgroups.length ? list.cgroups[0].cgroup.id : null;
  }

  async function drawCgroup(id) {
    const s = await getJSON("/cgroups/" + id + "?" + rangeQuery());
    state.marks.cgroup = changes(s.epochs);
    const fields = ["anon", "file_mapped", "shmem", "anon_thp"];
    chart("cgroup", $("chart-cgroup"), ["Time", "usage", ...fields],
          rows(s.points, (p) => [mib(p.usage_kb), ...fields.map((f) => mib(p.fields_kb[f]))]),
          { ylabel: "MiB" });
  }

  async function selectCgroup(id, fromUser) {
    state.cgroup = id;
    const sel = $("cgroup-select");
    if (![...sel.options].some((o) => o.value === String(id)))
      sel.append(h("option", { value: String(id) }, "cgroup " + id));
    sel.value = String(id);
    for (const row of document.querySelectorAll("tr[data-cgroup]"))
      row.classList.toggle("selected", row.dataset.cgroup === String(id));
    try {
      await drawCgroup(id);
      if (fromUser)
        $("chart-cgroup").scrollIntoView({ behavior: "smooth", block: "center" });
    } catch (e) {
      fail(e);
    }
  }

  /* ---- charts ---- */

  /* The range of the charts: from the first sweep stored to now, with a step that keeps the
   * points near POINTS_WANTED (the daemon aggregates, it does not drop). */
  function rangeQuery() {
    const firsts = state.epochs.filter((e) => e.first_sweep).map((e) => ms(e.first_sweep));
    const from = Math.min(...firsts);
    const to = Date.now();
    const perPoint = Math.ceil((to - from) / POINTS_WANTED / 1000);
    let q = "from=" + Math.floor(from / 1000) + "&to=" + Math.ceil(to / 1000);
    if (perPoint > (state.interval || 60))
      q += "&step=" + perPoint;
    return q;
  }

  /* Each kernel change (every mark but the first: that one is where the series starts) as a
   * red vertical line with the new kernel's release. */
  function markUnderlay(name) {
    return (ctx, area, g) => {
      ctx.save();
      ctx.strokeStyle = MARK_COLOR;
      ctx.fillStyle = MARK_COLOR;
      ctx.lineWidth = 2;
      ctx.font = "11px sans-serif";
      for (const m of state.marks[name] || []) {
        const x = Math.round(g.toDomXCoord(m.time));
        if (x < area.x || x > area.x + area.w)
          continue;
        ctx.beginPath();
        ctx.moveTo(x, area.y);
        ctx.lineTo(x, area.y + area.h);
        ctx.stroke();
        ctx.fillText(m.release, Math.min(x + 4, area.x + area.w - 80), area.y + 12);
      }
      ctx.restore();
    };
  }

  /* Rows for dygraphs from points, with an empty row just before each kernel change so that
   * no line joins two kernels. */
  function rows(points, values) {
    const out = [];
    let epoch = null;
    for (const p of points) {
      const t = ms(p.time);
      const v = values(p);
      if (epoch !== null && p.epoch !== epoch)
        out.push([new Date(t - 1), ...v.map(() => null)]);
      epoch = p.epoch;
      out.push([new Date(t), ...v]);
    }
    return out;
  }

  /* Keeps the series that have at least one value. */
  function present(labels, data) {
    const keep = labels.map((_, i) => i === 0 || data.some((r) => r[i] !== null));
    return {
      labels: labels.filter((_, i) => keep[i]),
      data: data.map((r) => r.filter((_, i) => keep[i])),
    };
  }

  function chart(name, div, labels, data, extra, emptyText) {
    const shown = present(labels, data);
    if (state.charts[name]) {
      state.charts[name].destroy();
      delete state.charts[name];
    }
    div.replaceChildren();
    /* The legend goes below the chart, where it hides no line. */
    let legend = document.getElementById(div.id + "-legend");
    if (!legend) {
      legend = h("div", { id: div.id + "-legend", class: "legend", "aria-live": "off" });
      div.after(legend);
    }
    legend.replaceChildren();
    const empty = shown.data.length === 0 || shown.labels.length < 2;
    div.classList.toggle("empty", empty);
    if (empty) {
      div.append(h("p", { class: "note" }, emptyText || "No samples in this range."));
      return;
    }
    state.charts[name] = new Dygraph(div, shown.data, Object.assign({
      labels: shown.labels,
      colors: shown.labels.slice(1).map((l) => COLORS[l] || "#555555"),
      legend: "always",
      labelsDiv: legend,
      labelsSeparateLines: false,
      connectSeparatedPoints: false,
      strokeWidth: 1.5,
      underlayCallback: markUnderlay(name),
      axes: { y: { axisLabelWidth: 60 } },
    }, extra || {}));
  }

  function changes(marks) {
    return marks.slice(1).map((m) => ({ time: ms(m.time), release: m.release,
                                        mapcount_mode: m.mapcount_mode }));
  }

  async function drawIdentity(id) {
    const s = await getJSON("/processes/" + id + "?" + rangeQuery());
    state.marks.memory = state.marks.exclusive = changes(s.epochs);
    const hasTruth = s.points.some((p) => p.truth);
    $("identity-note").textContent = identityName(s.identity) + ": " +
      (s.identity.cmdline || s.identity.key) + ". " +
      (hasTruth ? "Dashed: reconstructed from PFNs (truth) and, on per-page mapcount " +
                  "kernels, the NO_PAGE_MAPCOUNT forecast."
                : "No reconstruction stored (run with --pagemap full for truth and forecast).");

    const memLabels = ["Time", "Rss", "Pss", "Shared", "Private", "Truth Pss", "Truth Uss",
                       "Forecast Pss", "Forecast Shared", "Forecast Private"];
    const memData = rows(s.points, (p) => {
      const f = p.smaps_rollup, t = p.truth || {}, fc = p.forecast || {};
      return [mib(f.Rss), mib(f.Pss), mib(f.Shared), mib(f.Private), mib(t.Pss), mib(t.Uss),
              mib(fc.Pss), mib(fc.Shared), mib(fc.Private)];
    });
    const dashed = { strokePattern: [6, 3] };
    chart("memory", $("chart-memory"), memLabels, memData, {
      ylabel: "MiB",
      series: { "Truth Pss": dashed, "Truth Uss": dashed, "Forecast Pss": dashed,
                "Forecast Shared": dashed, "Forecast Private": dashed },
    });

    const classes = ["anon", "file", "shared_file", "shmem", "hugetlb"];
    const exData = rows(s.points, (p) => classes.map((c) => {
      const r = p.exclusive_ratio[c];
      return r === null || r === undefined ? null : 100 * r;
    }));
    chart("exclusive", $("chart-exclusive"), ["Time", ...classes], exData,
          { ylabel: "% exclusive", valueRange: [0, 101] },
          "No pagemap scan stored for this identity: pagemap mode off, or not every one of " +
          "its processes was scanned.");
  }

  async function drawSystem() {
    const s = await getJSON("/meminfo?" + rangeQuery());
    state.marks.meminfo = changes(s.epochs);
    const fields = ["AnonPages", "Mapped", "Shmem"];
    chart("meminfo", $("chart-meminfo"), ["Time", ...fields],
          rows(s.points, (p) => fields.map((f) => mib(p.fields[f]))), { ylabel: "MiB" });
  }

  /* ---- selection ---- */

  async function select(id, fromUser) {
    state.selected = id;
    const sel = $("identity-select");
    if (![...sel.options].some((o) => o.value === String(id)))
      sel.append(h("option", { value: String(id) }, "identity " + id));
    sel.value = String(id);
    for (const row of document.querySelectorAll("tr[data-identity]"))
      row.classList.toggle("selected", row.dataset.identity === String(id));
    if (fromUser)
      history.replaceState(null, "", "#identity=" + id);
    try {
      await drawIdentity(id);
      if (fromUser)
        $("identity").scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (e) {
      fail(e);
    }
  }

  function fillSelect(report, processes) {
    const sel = $("identity-select");
    sel.replaceChildren();
    const seen = new Set();
    const add = (i, group) => {
      if (seen.has(i.id))
        return;
      seen.add(i.id);
      group.append(h("option", { value: String(i.id) }, identityName(i) + " — " +
                     (i.cmdline || i.key).slice(0, 80)));
    };
    const flagged = h("optgroup", { label: "Flagged" });
    report.flagged.forEach((f) => add(f.identity, flagged));
    const largest = h("optgroup", { label: "Largest by Rss" });
    processes.processes.forEach((p) => add(p.identity, largest));
    if (flagged.children.length)
      sel.append(flagged);
    if (largest.children.length)
      sel.append(largest);
    sel.onchange = () => select(Number(sel.value), true);
  }

  function fail(e) {
    state.errors.push(String(e && e.message ? e.message : e));
    setStatus("Could not load everything: " + (e && e.message ? e.message : e), true);
  }

  /* ---- the page ---- */

  async function load() {
    const [health, epochs] = await Promise.all([getJSON("/healthz").catch(() => null),
                                                getJSON("/epochs")]);
    state.interval = health && health.interval_seconds;
    state.epochs = epochs.epochs;
    const sampled = state.epochs.filter((e) => e.sweeps > 0);
    if (sampled.length === 0) {
      $("empty").hidden = false;
      if (health && health.interval_seconds)
        $("empty-text").textContent = "mapstatd has not stored a sweep yet. It takes one " +
          "every " + health.interval_seconds + " s; this page shows it once stored (reload).";
      setStatus(health ? "Status: " + health.status : "No data yet");
      return;
    }

    const [report, forecast, processes, cgroups] = await Promise.all([
      getJSON("/report"), getJSON("/forecast"), getJSON("/processes?sort=rss&limit=50"),
      getJSON("/cgroups"),
    ]);
    for (const id of ["kernels", "report", "identity", "system"])
      $(id).hidden = false;
    drawTimeline(state.epochs);
    drawReport(report);
    const candidate = report.candidate || forecast.epoch;
    $("forecast").hidden = !(candidate && candidate.mapcount_mode === "page_mapcount");
    drawForecast(forecast);
    fillSelect(report, processes);
    $("cgroups").hidden = cgroups.total === 0;
    const firstCgroup = cgroups.total ? drawCgroups(report, cgroups) : null;

    const last = sampled[sampled.length - 1];
    setStatus(sampled.length + (sampled.length === 1 ? " kernel" : " kernels") +
              " sampled; now " + last.release + " (" + shortMode(last.mapcount_mode) + ")" +
              (health ? ", status " + health.status : ""));

    const hash = /identity=(\d+)/.exec(location.hash);
    const first = hash ? Number(hash[1])
      : report.flagged.length ? report.flagged[0].identity.id
      : processes.processes.length ? processes.processes[0].identity.id : null;
    await Promise.all([first !== null ? select(first, false) : null, drawSystem(),
                       firstCgroup !== null ? selectCgroup(firstCgroup, false) : null]);
  }

  function start() {
    state.ready = load().catch(fail).then(() => {
      document.body.dataset.ready = "1";
    });
  }

  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", start);
  else
    start();
})();
