// credsim dashboard: builds the scenario form from the model's schema (/api/form), validates on the
// server (the CLI's own rules), runs one job at a time with polled progress, and draws the report's
// Vega-Lite charts with the bundled vega-embed. No data leaves this machine; nothing is fetched from a CDN.
(function () {
"use strict";

const state = {
  form: null, presets: [], scenario: null, source: "", sourceKind: "preset", schedule: [],
  job: null, views: [], resultSeq: 0, lastCard: null, validateTimer: null, validateSeq: 0,
  memory: {},  // the values of a switched-off table or group, restored when it is switched on again
};

// -- small helpers ----------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) node.append(c);
  return node;
}
const $ = (sel) => document.querySelector(sel);
// replaceChildren/append turn null into the text "null": put only real children
function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}
// help texts come from the model's docstrings, where `name` marks a field or value: show it as code
function richText(text) {
  return String(text).replace(/``/g, "`").split(/`([^`]*)`/).map((part, i) => (i % 2 ? el("code", {text: part}) : part)).filter((p) => p !== "");
}
const plainText = (text) => String(text).replace(/`+([^`]*)`+/g, "$1");

async function api(method, url, body, raw) {
  const opts = {method, headers: {}};
  if (body !== undefined) {
    opts.body = raw ? body : JSON.stringify(body);
    opts.headers["Content-Type"] = raw ? "application/toml" : "application/json";
  }
  const res = await fetch(url, opts);
  let data = null;
  try { data = await res.json(); } catch (e) { data = {error: `unexpected answer (${res.status})`}; }
  return {status: res.status, ok: res.ok, data};
}

function fmtNum(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return "n/a";
  return x.toLocaleString("en-US", {minimumFractionDigits: digits, maximumFractionDigits: digits});
}

function getPath(obj, path) {
  const parts = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  return parts.reduce((o, p) => (o === undefined || o === null ? undefined : o[p]), obj);
}
function setPath(obj, path, value) {
  const parts = path.replace(/\[(\d+)\]/g, ".$1").split(".");
  let o = obj;
  for (const p of parts.slice(0, -1)) o = o[p];
  const last = parts[parts.length - 1];
  if (value === undefined) delete o[last]; else o[last] = value;
}

// A typed value from the text of an input: numbers as numbers; anything else is sent as typed, so
// the server's message says what is wrong with it (exactly as the CLI would).
const NUMBER = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
function readInput(input, spec) {
  if (spec.type === "boolean") return input.checked;
  const text = input.value.trim();
  if (spec.type === "enum") return text;
  if (text === "" && spec.nullable) return null;
  if ((spec.type === "integer" || spec.type === "number") && NUMBER.test(text.replace(/_/g, ""))) {
    return Number(text.replace(/_/g, ""));
  }
  return text;
}

// -- the form ----------------------------------------------------------------------------------------
function rangeText(spec) {
  const lo = spec.min !== undefined ? spec.min : spec.gt, hi = spec.max !== undefined ? spec.max : spec.lt;
  if (lo === undefined && hi === undefined) return "";
  const fmt = (v) => (Math.abs(v) >= 1e5 ? v.toExponential(0).replace("+", "") : String(v));
  if (lo !== undefined && hi !== undefined) return ` (${spec.gt !== undefined ? ">" : ""}${fmt(lo)}…${fmt(hi)})`;
  return lo !== undefined ? ` (≥ ${fmt(lo)})` : ` (≤ ${fmt(hi)})`;
}

function fieldNode(spec, path, value) {
  const id = "f-" + path.replace(/[^A-Za-z0-9]/g, "_");
  const help = spec.compact ? null : el("div", {class: "help"}, richText(spec.description + rangeText(spec)));
  const msg = el("div", {class: "msg", "data-msg-for": path});
  const wrap = el("div", {class: "field", "data-field": path, "data-key": spec.key});
  if (spec.type === "boolean") {
    const box = el("input", {type: "checkbox", id, "data-path": path, checked: !!value, title: plainText(spec.description)});
    box.addEventListener("change", () => onEdit(box, spec, path));
    wrap.append(...[el("label", {class: "check", for: id}, box, spec.title), help, msg].filter(Boolean));
    return wrap;
  }
  let input;
  if (spec.type === "enum") {
    input = el("select", {id, "data-path": path, title: plainText(spec.description)},
      spec.options.map((o) => el("option", {value: o, text: o, selected: o === value})));
    input.addEventListener("change", () => onEdit(input, spec, path));
  } else if (spec.read_only) {
    let shown = value;
    if (Array.isArray(value)) shown = `${value.length} region weights (upload a TOML file to change them)`;
    input = el("input", {type: "text", id, "data-path": path, readonly: true, value: shown ?? ""});
  } else {
    const numeric = spec.type === "integer" || spec.type === "number";
    input = el("input", {type: "text", id, "data-path": path, value: value === null || value === undefined ? "" : String(value),
      inputmode: numeric ? "decimal" : null, spellcheck: "false", title: plainText(spec.description)});
    input.addEventListener("input", () => onEdit(input, spec, path, true));
    input.addEventListener("change", () => onEdit(input, spec, path));
  }
  wrap.append(...[el("label", {for: id, text: spec.title}), input, help, msg].filter(Boolean));
  return wrap;
}

function groupFields(fields, data, prefix, compact) {
  if (compact) fields = fields.map((f) => Object.assign({}, f, {compact: true}));
  const shown = fields.filter((f) => f.key_field);
  const rest = fields.filter((f) => !f.key_field);
  const nodes = [];
  const grid = (list) => el("div", {class: list.length > 2 && prefix.includes("[") ? "grid3" : "grid2"},
    list.map((f) => fieldNode(f, `${prefix}.${f.key}`, data[f.key])));
  if (shown.length) nodes.push(grid(shown));
  if (rest.length) {
    const title = shown.length ? `More: ${rest.map((f) => f.title.toLowerCase()).join(", ")}` : null;
    if (title) nodes.push(el("details", {class: "more"}, el("summary", {text: title}), grid(rest)));
    else nodes.push(grid(rest));
  }
  return nodes;
}

// A switch for an optional table ([exit], [appeals], [adaptive]) or a group of fields (the initial
// list): off, the table or the fields are absent from the scenario (the model's defaults apply).
function toggleNode(group, on, label, onChange) {
  const id = `toggle-${group.replace(/[^A-Za-z0-9]/g, "-")}`;
  const box = el("input", {type: "checkbox", id, "data-group-toggle": group, checked: on, "aria-label": label});
  box.addEventListener("change", () => onChange(box.checked));
  return el("label", {class: "toggle", for: id, title: label}, box, el("span", {text: on ? "on" : "off"}));
}

function setTable(key, on, defaults) {
  const sc = state.scenario;
  if (on) sc[key] = state.memory[key] || Object.assign({}, defaults || {});
  else { if (sc[key]) state.memory[key] = sc[key]; delete sc[key]; }
  edited();
}

function setGroup(section, group, on) {
  const body = state.scenario[section];
  const mem = `${section}.${group.key}`;
  if (on) Object.assign(body, state.memory[mem] || group.defaults || {});
  else {
    state.memory[mem] = Object.fromEntries(group.fields.map((f) => [f, body[f]]));
    for (const f of group.fields) delete body[f];
  }
  edited();
}

function edited() {
  const name = $("#run-name");
  if (name.value === state.source) name.value = `${state.source}-custom`.slice(0, 48);
  buildForm();
  scheduleValidate(50);
}

function scheduleNode(section) {
  // read-only: a loaded schedule is shown and sent back unchanged
  const lines = state.schedule || [];
  const details = el("details", {class: "section", id: `section-${section.key}`, open: lines.length > 0},
    el("summary", {}, section.title, el("span", {class: "sub", text: `${lines.length} ${lines.length === 1 ? "entry" : "entries"} · read-only`})),
    el("div", {class: "msg section-msg", "data-msg-for": section.key}));
  if (!lines.length) details.append(el("p", {class: "help", text: "None: one policy for the whole run. Upload a TOML file with [[schedule]] entries to change the policy during a run."}));
  else {
    details.append(el("ol", {class: "schedule", id: "schedule-summary"}, lines.map((t) => el("li", {text: t}))));
    details.append(el("p", {class: "help", text: "Each entry changes the policy from its day on (the values before → after). Shown read-only: the run uses the schedule as loaded; upload a TOML file to change it."}));
  }
  return details;
}

function buildForm() {
  const form = $("#scenario-form");
  form.replaceChildren();
  const sc = state.scenario;
  const sections = state.form.sections.slice().sort((a, b) => hasKey(b) - hasKey(a));
  for (const section of sections) {
    const key = section.key;
    if (section.read_only) { form.append(scheduleNode(section)); continue; }
    if (section.optional) {
      const on = sc[key] !== undefined && sc[key] !== null;
      const details = el("details", {class: "section optional" + (on ? " on" : ""), open: on, id: `section-${key}`},
        el("summary", {}, section.title, el("span", {class: "sub", text: "CSM-2"}),
          toggleNode(key, on, `switch ${section.title.toLowerCase()} on or off`, (v) => setTable(key, v, section.defaults))),
        el("div", {class: "msg section-msg", "data-msg-for": key}),
        el("p", {class: "help"}, richText(section.description + (on ? "" : " Off: the scenario has no such table."))));
      if (on) details.append(...groupFields(section.fields, sc[key], key));
      form.append(details);
      continue;
    }
    const open = hasKey(section);
    const sub = open ? "mechanisms" : "";
    const details = el("details", {class: "section", open, id: `section-${key}`},
      el("summary", {}, section.title, el("span", {class: "sub", text: section.list ? `${(sc[key] || []).length} ${sub ? "· " + sub : ""}` : sub})),
      el("div", {class: "msg section-msg", "data-msg-for": key}));
    if (section.list) {
      // in a list the help is said once, above the items (and on each input as a tooltip)
      details.append(el("p", {class: "help list-help"}, section.fields.filter((f) => f.key !== "name").map((f) =>
        [el("strong", {text: f.title}), ": ", richText(`${f.description}${rangeText(f)}`), ". "])));
      (sc[key] || []).forEach((item, i) => {
        const nameField = section.fields.find((f) => f.key === "name");
        const kind = item.kind ? el("span", {class: "kind", text: item.kind}) : null;
        const fields = section.fields.filter((f) => f.key !== "name");
        details.append(el("div", {class: "item", "data-item": `${key}[${i}]`},
          el("div", {class: "item-head"}, el("span", {text: (item.name || `#${i + 1}`).replace(/_/g, " "), title: nameField ? plainText(nameField.description) : ""}), kind),
          el("div", {class: "msg", "data-msg-for": `${key}[${i}]`}), el("div", {class: "msg", "data-msg-for": `${key}[${i}].name`}),
          groupFields(fields, item, `${key}[${i}]`, true)));
      });
    } else {
      const grouped = new Set((section.groups || []).flatMap((g) => g.fields));
      details.append(...groupFields(section.fields.filter((f) => !grouped.has(f.key)), sc[key] || {}, key));
      for (const g of section.groups || []) {
        const body = sc[key] || {};
        const on = g.fields.some((f) => body[f] !== undefined && body[f] !== null && body[f] !== 0);
        const box = el("div", {class: "group" + (on ? " on" : ""), id: `group-${key}-${g.key}`},
          el("div", {class: "group-head"}, el("strong", {text: g.title}), el("span", {class: "sub", text: "CSM-2"}),
            toggleNode(`${key}.${g.key}`, on, `switch ${g.title.toLowerCase()} on or off`, (v) => setGroup(key, g, v))),
          el("p", {class: "help"}, richText(g.description)));
        if (on) box.append(el("div", {class: "grid2"}, section.fields.filter((f) => g.fields.includes(f.key)).map((f) => fieldNode(f, `${key}.${f.key}`, body[f.key]))));
        details.append(box);
      }
    }
    form.append(details);
  }
  syncBlacklistMode();
}
function hasKey(section) { return section.fields.some((f) => f.key_field) ? 1 : 0; }

function syncBlacklistMode() {
  const mode = getPath(state.scenario, "blacklist.mode");
  const value = document.querySelector('[data-field="blacklist.value"]');
  const offset = document.querySelector('[data-field="blacklist.offset"]');
  if (value) value.hidden = mode !== "absolute";
  if (offset) offset.hidden = mode !== "below_mean";
}

function onEdit(input, spec, path, typing) {
  setPath(state.scenario, path, readInput(input, spec));
  if (path === "blacklist.mode") {
    if (input.value === "below_mean") setPath(state.scenario, "blacklist.value", undefined);
    else {
      const v = document.querySelector('[data-path="blacklist.value"]');
      if (v) setPath(state.scenario, "blacklist.value", readInput(v, {type: "integer", nullable: true}));
    }
    syncBlacklistMode();
  }
  const name = $("#run-name");
  if (name.value === state.source) name.value = `${state.source}-custom`.slice(0, 48);
  scheduleValidate(typing ? 400 : 50);
}

// -- validation messages -------------------------------------------------------------------------------
function runBody() {
  const body = {scenario: state.scenario};
  for (const input of document.querySelectorAll("[data-run]")) body[input.dataset.run] = input.value.trim();
  return body;
}

function showErrors(errors) {
  for (const node of document.querySelectorAll("[data-msg-for]")) node.textContent = "";
  for (const node of document.querySelectorAll(".field.invalid")) node.classList.remove("invalid");
  const general = [];
  for (const e of errors || []) {
    let target = document.querySelector(`[data-msg-for="${CSS.escape(e.field)}"]`);
    if (!target) {
      // a field that is not on the form: show it on its section (channel[2] → channel), else near Run
      const section = e.field.split(/[.[]/)[0];
      target = document.querySelector(`[data-msg-for="${CSS.escape(section)}"]`);
      if (target) { target.textContent += (target.textContent ? " " : "") + `${e.field}: ${e.message}`; openSection(target); continue; }
      general.push(`${e.field}: ${e.message}`);
      continue;
    }
    target.textContent = target.textContent ? `${target.textContent}; ${e.message}` : e.message;
    const field = target.closest(".field");
    if (field) field.classList.add("invalid");
    openSection(target);
  }
  const box = document.querySelector('[data-msg-for="scenario"]');
  if (general.length) box.textContent = general.join(" · ");
}
function openSection(node) {
  for (let d = node.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
}

function scheduleValidate(delay) {
  clearTimeout(state.validateTimer);
  state.validateTimer = setTimeout(validate, delay);
}
async function validate() {
  if (!state.scenario) return true;
  const seq = ++state.validateSeq;
  const res = await api("POST", "/api/validate", runBody());
  if (seq !== state.validateSeq) return res.data && res.data.ok;  // a newer check is on its way
  if (!res.ok) { $("#run-msg").textContent = res.data.error || "validation failed"; return false; }
  showErrors(res.data.errors);
  if (res.data.schedule && res.data.schedule.join("\n") !== state.schedule.join("\n")) {
    state.schedule = res.data.schedule;  // an edited base value shows as the value before an entry
    const list = $("#schedule-summary");
    if (list) fill(list, state.schedule.map((t) => el("li", {text: t})));
  }
  return res.data.ok;
}

// -- scenario sources ----------------------------------------------------------------------------------
function setScenario(name, scenario, kind, note, schedule) {
  state.scenario = scenario;
  state.schedule = schedule || [];
  state.memory = {};
  state.source = name;
  state.sourceKind = kind;
  $("#run-name").value = name;
  const auto = state.presets.includes(`${name}-baseline`) ? `${name}-baseline` : "baseline";
  if (state.presets.includes(auto)) $("#run-baseline").value = auto;
  $("#source-note").textContent = note || "";
  buildForm();
  showErrors([]);
  $("#run-msg").textContent = "";
  scheduleValidate(10);
}

async function loadPreset(name) {
  const res = await api("GET", `/api/preset?name=${encodeURIComponent(name)}`);
  if (!res.ok) { $("#upload-msg").textContent = res.data.error; return; }
  $("#upload-msg").textContent = "";
  $("#upload").value = "";
  setScenario(res.data.name, res.data.scenario, "preset", "", res.data.schedule);
}

async function uploadFile(file) {
  const msg = $("#upload-msg");
  msg.classList.remove("ok");
  if (file.size > 1048576) { msg.textContent = `${file.name}: larger than 1 MiB; not a scenario`; return; }
  const text = await file.arrayBuffer();
  const res = await api("POST", `/api/upload?filename=${encodeURIComponent(file.name)}`, text, true);
  if (!res.ok) { msg.textContent = res.data.error; return; }
  msg.textContent = "";
  $("#preset").value = "";
  setScenario(res.data.name, res.data.scenario, "upload", `From ${file.name}.`, res.data.schedule);
}

// -- running -------------------------------------------------------------------------------------------
async function startRun() {
  const button = $("#run-button");
  const msg = $("#run-msg");
  msg.textContent = "";
  clearTimeout(state.validateTimer);
  button.disabled = true;
  const res = await api("POST", "/api/run", runBody());
  if (res.data && res.data.ok === false && res.data.errors) {
    showErrors(res.data.errors);
    msg.textContent = "Nothing was run: fix the marked fields first.";
    button.disabled = false;
    return;
  }
  if (!res.ok) {
    msg.textContent = res.data.error || `the server answered ${res.status}`;
    button.disabled = false;
    return;
  }
  showErrors([]);
  state.job = res.data.job;
  document.body.dataset.job = String(state.job.id);
  document.body.dataset.jobState = "running";
  $("#progress").hidden = false;
  pollJob(state.job.id);
}

async function pollJob(id) {
  let res;
  try { res = await api("GET", `/api/jobs/${id}`); } catch (e) { res = null; }
  if (!res || !res.ok) { setTimeout(() => pollJob(id), 1000); return; }
  const job = res.data;
  const done = job.runs_started ? job.runs_started - 1 + (job.days ? job.day / job.days : 0) : 0;
  const frac = job.state === "done" ? 1 : Math.min(1, done / Math.max(1, job.runs_total));
  $("#progress-fill").style.width = `${Math.round(100 * frac)}%`;
  const text = $("#progress-text");
  if (job.state === "queued") text.textContent = "Waiting for the worker…";
  else if (job.state === "running") {
    text.textContent = job.stage === "charts" ? "Scoring and drawing…"
      : job.stage ? `Simulating ${job.stage}: day ${job.day} of ${job.days} (${fmtNum(job.population, 0)} people)` : "Starting…";
  }
  if (job.state === "queued" || job.state === "running") { setTimeout(() => pollJob(id), 250); return; }
  $("#run-button").disabled = false;
  document.body.dataset.jobState = job.state;
  if (job.state === "error") {
    $("#progress").hidden = true;
    $("#run-msg").textContent = `The run failed: ${job.message}`;
    return;
  }
  text.textContent = `Done in ${job.elapsed_s.toFixed(1)} s.`;
  await renderResults(job.result, `${job.name} against ${job.baseline}`);
  refreshCatalog();
}

// -- results --------------------------------------------------------------------------------------------
function scorecardNode(card, previous) {
  if (!card) return el("p", {class: "note", text: "No scorecard: none of these runs is named baseline (a scorecard compares a scenario with its baseline)."});
  const cols = card.columns;
  const head = el("tr", {}, el("th", {scope: "col", text: "Measure"}), el("th", {scope: "col", text: "Unit"}),
    cols.map((c) => el("th", {scope: "col", text: c})));
  const rows = card.rows.map((r) => el("tr", {"data-metric": r.metric},
    el("th", {scope: "row", text: r.label}), el("td", {class: "unit", text: r.unit}),
    r.values.map((v, i) => {
      const td = el("td", {text: fmtNum(v, 2)});
      const was = previous && i === cols.length - 1 && cols.length > 1 ? previous[r.metric] : undefined;
      if (was !== undefined && fmtNum(was, 2) !== fmtNum(v, 2)) td.append(el("span", {class: "was", text: `was ${fmtNum(was, 2)}`}));
      return td;
    })));
  return el("div", {class: "tablewrap"}, el("table", {id: "scorecard-table"}, el("thead", {}, head), el("tbody", {}, rows)));
}

// The CSM-2 mechanisms' daily columns (settlements, appeals, near the line), summed over each run.
function mechanismsNode(m) {
  if (!m) return null;
  const head = el("tr", {}, el("th", {scope: "col", text: "Daily column"}), el("th", {scope: "col", text: "Measure"}),
    m.columns.map((c) => el("th", {scope: "col", text: c})));
  const rows = m.rows.map((r) => el("tr", {"data-column": r.column},
    el("th", {scope: "row"}, el("code", {text: r.column})), el("td", {class: "unit", text: r.label}),
    r.values.map((v) => el("td", {text: v === null ? "—" : fmtNum(v, r.how === "mean" ? 1 : 0)}))));
  return [el("h3", {text: "CSM-2 mechanisms"}),
    el("p", {class: "note", text: "The daily columns of the mechanisms switched on (— : the run has no such column)."}),
    el("div", {class: "tablewrap"}, el("table", {id: "mechanisms-table"}, el("thead", {}, head), el("tbody", {}, rows)))];
}

async function renderResults(result, title) {
  for (const v of state.views) { try { v.finalize(); } catch (e) { /* already gone */ } }
  state.views = [];
  const seq = ++state.resultSeq;
  const body = $("#results-body");
  $("#results-empty").hidden = true;
  body.hidden = false;
  document.body.dataset.chartsDone = "0";
  $("#results-title").textContent = title;
  const r0 = result.runs[0];
  const same = result.runs.every((r) => r.population === r0.population && r.days === r0.days);
  $("#results-meta").textContent = (same ? `${fmtNum(r0.population, 0)} people · ${r0.days} days · seed ${r0.seed} · ` : "")
    + result.runs.map((r) => `${r.label}: ${r.run_id}${r.reused ? " (stored run reused)" : ""}`).join(" · ");

  const card = result.scorecard;
  // "was": the previous run's values against the same baseline, so a change of one setting shows its effect
  const previous = card && card.columns.length === 2 && state.lastCard && state.lastCard.baseline === r0.run_id
    && state.lastCard.runId !== result.runs[1].run_id ? state.lastCard : null;
  fill($("#scorecard"), el("h3", {text: result.baseline ? `Scorecard against ${result.baseline}` : "Scorecard"}),
    scorecardNode(card, previous ? previous.values : null),
    previous ? el("p", {class: "note", text: `Small grey figures: the previous run (${previous.label}).`}) : null);
  if (card && card.columns.length === 2) {
    const run = result.runs[1];
    state.lastCard = {baseline: r0.run_id, runId: run.run_id, label: run.run_id,
      values: Object.fromEntries(card.rows.map((r) => [r.metric, r.values[1]]))};
  }
  fill($("#mechanisms"), mechanismsNode(result.mechanisms));
  const verdicts = Object.entries(result.verdicts || {}).map(([n, t]) => el("p", {class: "verdict"}, el("strong", {text: `${n}: `}), t));
  $("#verdicts").replaceChildren(...verdicts, ...(result.notes || []).map((n) => el("p", {class: "note", text: n})));

  const charts = $("#charts");
  charts.replaceChildren();
  const jobs = result.charts.map((c) => {
    const target = el("div", {class: "chart", id: `chart-${c.key}`, role: "img", "aria-label": c.heading});
    charts.append(el("section", {class: "chart-block"}, el("h3", {text: c.heading}), el("p", {class: "about", text: c.about}),
      c.notes.map((n) => el("p", {class: "note", text: n})), el("div", {class: "chart-scroll"}, target)));
    return vegaEmbed(target, c.spec, {renderer: "svg", downloadFileName: `credsim-${c.key}`,
      actions: {export: true, source: false, compiled: false, editor: false}})
      .then((res) => { state.views.push(res.view); target.dataset.rendered = "1"; })
      .catch((err) => { console.error(`chart ${c.key} failed: ${err}`); target.textContent = `This chart could not be drawn: ${err}`; });
  });
  await Promise.all(jobs);
  if (seq === state.resultSeq) {
    document.body.dataset.chartsDone = "1";
    document.body.dataset.resultSeq = String(seq);
  }
}

// -- the catalog -----------------------------------------------------------------------------------------
function dl(run, table, format, text) {
  const q = `run=${encodeURIComponent(run.run_id)}&table=${table}&format=${format}`;
  return el("a", {href: `/api/download?${q}`, download: "", "data-table": table, "data-format": format, text});
}

async function refreshCatalog() {
  const res = await api("GET", "/api/runs");
  const msg = $("#catalog-msg");
  if (!res.ok) { msg.textContent = res.data.error; return; }
  msg.textContent = "";
  $("#catalog-path").textContent = `${res.data.runs.length} run${res.data.runs.length === 1 ? "" : "s"} in ${res.data.catalog}. `
    + "Tick runs (one named baseline gives a scorecard) and press Show selected.";
  const body = $("#catalog-table tbody");
  const ticked = new Set([...body.querySelectorAll("input:checked")].map((i) => i.value));
  body.replaceChildren(...res.data.runs.map((r) => el("tr", {"data-run-id": r.run_id},
    el("td", {}, el("input", {type: "checkbox", value: r.run_id, checked: ticked.has(r.run_id), "aria-label": `select ${r.run_id}`, onchange: syncShow})),
    el("td", {class: "name", title: r.run_id}, r.name, el("div", {class: "id", text: r.run_id})),
    el("td", {text: fmtNum(r.population, 0)}), el("td", {text: String(r.days)}), el("td", {text: r.seed}),
    el("td", {text: r.created_at.replace("T", " ")}),
    el("td", {class: "dl"}, el("span", {class: "fmt", text: "CSV"}), dl(r, "daily", "csv", "daily"), dl(r, "regions", "csv", "regions"),
      el("span", {class: "fmt", text: "Parquet"}), dl(r, "daily", "parquet", "daily"), dl(r, "regions", "parquet", "regions"),
      el("span", {class: "fmt", text: "TOML"}), dl(r, "scenario", "toml", "scenario")),
    el("td", {}, el("button", {type: "button", class: "edit", text: "Edit", title: "Load this run's scenario and settings into the form", onclick: () => editRun(r.run_id)})))));
  syncShow();
}
function syncShow() { $("#catalog-show").disabled = !document.querySelector("#catalog-table tbody input:checked"); }

async function showSelected() {
  const ids = [...document.querySelectorAll("#catalog-table tbody input:checked")].map((i) => i.value);
  const msg = $("#catalog-msg");
  msg.textContent = "";
  const res = await api("POST", "/api/compare", {run_ids: ids});
  if (!res.ok) { msg.textContent = res.data.error; return; }
  await renderResults(res.data, `Stored runs: ${res.data.runs.map((r) => r.label).join(", ")}`);
  $("#results").scrollIntoView({behavior: "smooth"});
}

async function editRun(runId) {
  const res = await api("GET", `/api/run-scenario?run=${encodeURIComponent(runId)}`);
  if (!res.ok) { $("#catalog-msg").textContent = res.data.error; return; }
  const d = res.data;
  $("#preset").value = state.presets.includes(d.name) ? d.name : "";
  $("#run-population").value = String(d.population);
  $("#run-days").value = String(d.days);
  $("#run-seed").value = d.seed;
  setScenario(/^[a-z][a-z0-9_-]{0,47}$/.test(d.name) ? d.name : "edited", d.scenario, "run", `From stored run ${runId}.`, d.schedule);
}

// -- start -----------------------------------------------------------------------------------------------
async function main() {
  const [form, presets] = await Promise.all([api("GET", "/api/form"), api("GET", "/api/presets")]);
  state.form = form.data;
  state.presets = presets.data.presets;
  $("#population-help").textContent = `10000, 2e5, … up to ${fmtNum(state.form.limits.population, 0)}`;
  $("#preset").replaceChildren(el("option", {value: "", text: "(uploaded or edited)", disabled: true}),
    ...state.presets.map((p) => el("option", {value: p, text: p})));
  $("#run-baseline").replaceChildren(...state.presets.map((p) => el("option", {value: p, text: p})));
  $("#preset").value = presets.data.default;
  $("#preset").addEventListener("change", (e) => { if (e.target.value) loadPreset(e.target.value); });
  $("#upload").addEventListener("change", (e) => { if (e.target.files.length) uploadFile(e.target.files[0]); });
  for (const input of document.querySelectorAll("[data-run]")) {
    input.addEventListener("input", () => scheduleValidate(400));
    input.addEventListener("change", () => scheduleValidate(50));
  }
  $("#run-button").addEventListener("click", startRun);
  // Enter in a field would submit the form (a page reload): the form only holds the inputs
  $("#scenario-form").addEventListener("submit", (e) => e.preventDefault());
  $("#catalog-refresh").addEventListener("click", refreshCatalog);
  $("#catalog-show").addEventListener("click", showSelected);
  await loadPreset(presets.data.default);
  await refreshCatalog();
  const status = await api("GET", "/api/status");
  if (status.ok && status.data.busy) {  // a run started before this page was opened
    $("#progress").hidden = false;
    $("#run-button").disabled = true;
    pollJob(status.data.job.id);
  }
  document.body.dataset.ready = "1";
}

main().catch((err) => { console.error(`dashboard failed to start: ${err}`); });
})();
