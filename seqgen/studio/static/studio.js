// seqgen studio: the page over the studio's JSON API. Plain JavaScript and SVG; it asks only its own server.
"use strict";
const CSRF = document.querySelector('meta[name="seqgen-csrf"]').content;
const TOKEN = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let TASKS = {}, CORPORA = [], RESUMABLE = [], current = null, stream = null;

function withToken(url) {
  return TOKEN ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : url;
}

async function api(path, options = {}) {
  const headers = {"X-Seqgen-CSRF": CSRF};
  if (TOKEN) headers["X-Seqgen-Token"] = TOKEN;
  if (options.json !== undefined) { headers["Content-Type"] = "application/json"; options.body = JSON.stringify(options.json); }
  const response = await fetch(path, {method: options.method || "GET", headers, body: options.body});
  let data = null;
  try { data = await response.json(); } catch (e) { data = {error: "Error: the server answered " + response.status}; }
  if (!response.ok) throw new Error(data.error || "Error: the server answered " + response.status);
  return data;
}

function showError(id, error) { $(id).textContent = error ? (error.message || String(error)) : ""; }

function el(tag, attributes = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value; else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// forms built from field descriptions (seqgen.options.form_fields)
function fieldInput(field, prefix) {
  let input;
  if (field.kind === "choice") {
    input = el("select");
    for (const choice of field.choices) input.append(el("option", {value: choice, text: choice}));
    input.value = field.default;
  } else if (field.kind === "checkbox") {
    input = el("input", {type: "checkbox"});
    input.checked = !!field.default;
  } else if (field.kind === "upload") {
    input = el("input", {type: "file"});
  } else {
    input = el("input", {type: field.kind === "text" ? "text" : "number"});
    if (field.kind === "number") input.step = "any";
    if (field.kind === "text" && field.name !== "prime" && field.name !== "text") input.className = "";
    else if (field.kind === "text") input.className = "wide";
    if (field.default !== null && field.default !== undefined) input.value = field.default;
    if (field.min !== undefined) input.min = field.min;
    if (field.max !== undefined) input.max = field.max;
  }
  input.name = field.name;
  input.id = prefix + "-" + field.name;
  input.dataset.kind = field.kind;
  return el("label", {title: field.help || ""}, field.label + " ", input);
}

function buildFields(container, fields, prefix) {
  container.replaceChildren(...fields.map((f) => fieldInput(f, prefix)));
}

async function readFields(container) {
  const values = {};
  for (const input of container.querySelectorAll("input, select, textarea")) {
    const kind = input.dataset.kind;
    if (kind === "checkbox") values[input.name] = input.checked;
    else if (kind === "upload") values[input.name] = input.files.length ? (await upload(input.files[0])).name : null;
    else if (input.value.trim() === "") values[input.name] = null;
    else if (kind === "integer" || kind === "number") {
      const number = Number(input.value);
      values[input.name] = Number.isFinite(number) ? number : input.value;
    } else values[input.name] = input.value;
  }
  return values;
}

async function upload(file) {
  return api("/api/uploads?name=" + encodeURIComponent(file.name), {method: "POST", body: file});
}

// charts
function scale(values, low, high) {
  let min = Math.min(...values), max = Math.max(...values);
  if (!Number.isFinite(min) || !Number.isFinite(max)) { min = 0; max = 1; }
  if (max === min) { max += 1; min -= 1; }
  return (v) => low + (v - min) / (max - min) * (high - low);
}

function lineChart(svg, series, xLabel) {
  // series: [{cls, points: [[x, y]], band: [[x, lo, hi]]}]
  svg.replaceChildren();
  const all = series.flatMap((s) => s.points.concat((s.band || []).flatMap((b) => [[b[0], b[1]], [b[0], b[2]]])));
  if (!all.length) { svg.append(el("svg:text", {x: 20, y: 110, text: "no points yet"})); return; }
  const x = scale(all.map((p) => p[0]), 40, 590), y = scale(all.map((p) => p[1]), 205, 10);
  svg.append(el("svg:line", {class: "axis", x1: 40, y1: 205, x2: 590, y2: 205}), el("svg:line", {class: "axis", x1: 40, y1: 10, x2: 40, y2: 205}));
  const ys = all.map((p) => p[1]);
  svg.append(el("svg:text", {x: 2, y: 14, text: Math.max(...ys).toPrecision(3)}), el("svg:text", {x: 2, y: 204, text: Math.min(...ys).toPrecision(3)}));
  svg.append(el("svg:text", {x: 540, y: 218, text: xLabel || ""}));
  for (const s of series) {
    if (s.band && s.band.length) {
      const upper = s.band.map((b) => `${x(b[0])},${y(b[2])}`), lower = s.band.slice().reverse().map((b) => `${x(b[0])},${y(b[1])}`);
      svg.append(el("svg:polygon", {class: "band", points: upper.concat(lower).join(" ")}));
    }
    if (s.points.length) svg.append(el("svg:polyline", {class: s.cls, points: s.points.map((p) => `${x(p[0])},${y(p[1])}`).join(" ")}));
  }
}

// runs
async function loadRuns() {
  try {
    const data = await api("/api/runs");
    const body = $("runs").tBodies[0];
    body.replaceChildren(...data.runs.map((run) => {
      const row = el("tr", {"data-run": run.name},
        el("td", {text: run.name}), el("td", {text: run.task}), el("td", {text: run.corpus.split(/[\\/]/).pop(), title: run.corpus}), el("td", {text: run.size}),
        el("td", {text: run.best_val_loss === null ? "–" : run.best_val_loss.toFixed(4)}), el("td", {text: run.date.replace("T", " ")}),
        el("td", {text: run.state, class: "state-" + run.state}));
      if (current === run.name) row.classList.add("on");
      row.addEventListener("click", () => openRun(run.name));
      return row;
    }));
    showError("runs-error", null);
  } catch (error) { showError("runs-error", error); }
}

async function openRun(name) {
  current = name;
  for (const row of $("runs").tBodies[0].rows) row.classList.toggle("on", row.dataset.run === name);
  showError("run-error", null); showError("try-error", null); showError("inspect-error", null);
  $("try-output").replaceChildren(); $("gate-view").hidden = true; $("inspect-ranking").replaceChildren();
  let run;
  try { run = await api("/api/runs/" + encodeURIComponent(name)); } catch (error) { showError("run-error", error); return; }
  $("run-title").textContent = run.name;
  $("run-summary").textContent = `${run.task} · ${run.corpus} · ${run.size} · ${run.state}` +
    (run.best_val_loss === null ? "" : ` · best validation loss ${run.best_val_loss.toFixed(4)}`);
  lineChart($("run-curve"), [{cls: "train", points: run.curves.training}, {cls: "val", points: run.curves.validation}], run.curves.x);
  $("run-settings-text").textContent = JSON.stringify(run.settings, null, 2);
  $("run-files").replaceChildren(...run.files.map((file) => el("a", {href: withToken(`/api/runs/${encodeURIComponent(name)}/files/${encodeURIComponent(file)}`), download: file, text: file + " "})));
  $("run-resume").hidden = run.state === "running";
  $("try-panel").hidden = true; $("inspect-panel").hidden = true;
  if (!run.has_model) return;
  try {
    const form = await api(`/api/runs/${encodeURIComponent(name)}/form`);
    if (form.try) {
      $("try-panel").hidden = false;
      $("try-panel").dataset.view = form.try.view;
      $("try-title").textContent = form.try.title || "Try it";
      buildFields($("try-fields"), form.try.fields, "try");
    }
    $("inspect-panel").hidden = false;
    $("inspect-reads").textContent = form.inspect.reads;
    $("inspect-text").hidden = form.inspect.text === null;
    $("inspect-text").placeholder = form.inspect.text || "";
    buildFields($("inspect-fields"), form.inspect.fields, "inspect");
  } catch (error) { showError("run-error", error); }
}

// trying a model
async function tryModel() {
  const view = $("try-panel").dataset.view, output = $("try-output");
  showError("try-error", null);
  let values;
  try { values = await readFields($("try-fields")); } catch (error) { showError("try-error", error); return; }
  if (view === "stream") return streamText(values);
  $("try-go").disabled = true;
  try {
    const result = await api(`/api/runs/${encodeURIComponent(current)}/try`, {method: "POST", json: {values}});
    output.replaceChildren();
    ({music: drawMusic, translation: drawTranslation, band: drawBand, probabilities: drawProbabilities})[view](result, output);
  } catch (error) { showError("try-error", error); } finally { $("try-go").disabled = false; }
}

function streamText(values) {
  if (stream) stream.close();
  const text = el("div", {id: "stream-text"});
  $("try-output").replaceChildren(text);
  const url = withToken(`/api/runs/${encodeURIComponent(current)}/stream?values=${encodeURIComponent(JSON.stringify(values))}`);
  stream = new EventSource(url);
  $("try-cancel").disabled = false; $("try-go").disabled = true;
  const done = () => { if (stream) stream.close(); stream = null; $("try-cancel").disabled = true; $("try-go").disabled = false; };
  stream.addEventListener("part", (e) => { text.textContent += JSON.parse(e.data); });
  stream.addEventListener("end", done);
  stream.addEventListener("error", (e) => {
    if (e.data) showError("try-error", JSON.parse(e.data));
    else if (!text.textContent) {  // refused before streaming: ask again to read the one line
      fetch(url).then((r) => r.json()).then((d) => showError("try-error", d.error)).catch(() => {});
    }
    done();
  });
}

function drawMusic(result, output) {
  const roll = el("svg:svg", {id: "piano-roll", viewBox: "0 0 800 240", preserveAspectRatio: "none"});
  const pitches = result.notes.map((n) => n[3]);
  const low = Math.min(...pitches) - 1, high = Math.max(...pitches) + 1, end = Math.max(result.end, 1);
  const colours = ["#3a6df0", "#e0663a", "#0a6", "#a3c", "#c90"];
  for (const [offset, duration, part, pitch] of result.notes) {
    roll.append(el("svg:rect", {x: offset / end * 800, width: Math.max(1, duration / end * 800), y: (high - pitch) / (high - low) * 240,
      height: Math.max(2, 240 / (high - low) - 1), fill: colours[part % colours.length], class: "note"}));
  }
  output.append(roll);
  if (result.files.wav) {
    output.append(el("audio", {id: "music-audio", controls: "", src: withToken(result.files.wav)}));
  } else {
    const play = el("button", {id: "music-play", text: "Play"});
    play.addEventListener("click", () => synthesize(result));
    output.append(play, el("p", {class: "help", text: result.note || ""}));
  }
  const links = el("p", {}, "download: ");
  for (const [kind, url] of Object.entries(result.files)) links.append(el("a", {href: withToken(url), download: "", text: kind + " "}));
  output.append(links, el("p", {class: "help", text: `seed ${result.seed}; ${result.notes.length} notes`}));
}

function synthesize(result) {  // the page's own synthesizer, where the server has no FluidSynth
  const context = new AudioContext(), beat = 60 / result.tempo, start = context.currentTime + 0.1;
  for (const [offset, duration, , pitch] of result.notes) {
    const oscillator = context.createOscillator(), gain = context.createGain();
    oscillator.type = "triangle";
    oscillator.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
    const t0 = start + offset * beat, t1 = t0 + duration * beat;
    gain.gain.setValueAtTime(0, t0); gain.gain.linearRampToValueAtTime(0.15, t0 + 0.01); gain.gain.linearRampToValueAtTime(0, t1);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(t0); oscillator.stop(t1 + 0.05);
  }
  window.studioSynth = context;
}

function drawTranslation(result, output) {
  output.append(el("p", {class: "translation", id: "translation", text: result.translation}));
  if (result.problem) output.append(el("p", {class: "help", text: result.problem}));
  const table = el("table", {id: "attention"});
  table.append(el("tr", {}, el("th"), ...result.source.map((s) => el("th", {class: "vertical", text: s}))));
  result.target.forEach((t, i) => {
    table.append(el("tr", {}, el("th", {text: t}), ...result.weights[i].map((w) => {
      const cell = el("td", {title: w.toFixed(3)});
      cell.style.background = `rgba(58, 109, 240, ${w})`;
      return cell;
    })));
  });
  output.append(el("p", {class: "help", text: "attention: each row is an output piece, each column the input piece it reads"}), table);
}

function drawBand(result, output) {  // a series continued by the model, with its band
  const svg = el("svg:svg", {id: "band-chart", class: "chart", viewBox: "0 0 600 220", preserveAspectRatio: "none"});
  const n = result.history.length, zoom = el("select", {id: "band-zoom"});
  for (const [value, label] of [["all", "the whole series"], ["end", "zoom on the end"]]) zoom.append(el("option", {value, text: label}));
  const draw = () => {
    const from = zoom.value === "end" ? Math.max(0, n - 3 * result.rows.length) : 0;
    const history = result.history.slice(from).map((p, i) => [from + i + 1, p[1]]);
    const rows = result.rows.map((r) => [n + r.step, r.value]);
    const band = result.rows.map((r) => [n + r.step, r.lower, r.upper]);
    const actual = result.actual.map((v, i) => [n + i + 1, v]);
    lineChart(svg, [{cls: "history", points: history}, {cls: "continued", points: [[n, result.history[n - 1][1]], ...rows], band},
      {cls: "actual", points: actual}], "step");
  };
  zoom.addEventListener("change", draw);
  output.append(el("label", {}, "view ", zoom), svg);
  draw();
  const table = el("table", {id: "band-rows"}, el("tr", {}, ...["step", "", "value", result.band || "band"].map((h) => el("th", {text: h}))));
  for (const r of result.rows) table.append(el("tr", {}, el("td", {text: r.step}), el("td", {text: r.label || ""}),
    el("td", {text: r.value.toFixed(2)}), el("td", {text: `${r.lower.toFixed(2)} – ${r.upper.toFixed(2)}`})));
  output.append(table);
}

function drawProbabilities(result, output) {
  const table = el("table", {id: "probabilities"}, el("tr", {}, el("th", {text: "row"}), el("th", {text: "label"}),
    el("th", {text: "predicted"}), ...result.classes.map((c) => el("th", {text: c}))));
  for (const row of result.rows) {
    table.append(el("tr", {}, el("td", {text: row.row}), el("td", {text: row.label}), el("td", {text: row.predicted}),
      ...result.classes.map((c) => {
        const p = row.probabilities[c], bar = el("span", {class: "pbar"});
        bar.style.width = Math.round(60 * p) + "px";
        return el("td", {class: "p", title: p.toFixed(4)}, bar, " " + p.toFixed(2));
      })));
  }
  output.append(el("p", {class: "help", text: `${result.total} sequences` + (result.total > result.rows.length ? `, the first ${result.rows.length} shown` : "")}), table);
}

async function inspect() {
  showError("inspect-error", null);
  $("inspect-go").disabled = true;
  try {
    const options = await readFields($("inspect-fields"));
    const text = $("inspect-text").hidden ? null : $("inspect-text").value;
    const result = await api(`/api/runs/${encodeURIComponent(current)}/inspect`, {method: "POST", json: {text, options}});
    $("inspect-ranking").replaceChildren(...result.ranking.map((line) => el("li", {text: line})));
    $("gate-view").src = withToken(result.view);
    $("gate-view").hidden = false;
  } catch (error) { showError("inspect-error", error); } finally { $("inspect-go").disabled = false; }
}

// training
function fillTrainForm() {
  const task = TASKS[$("train-task").value];
  $("train-task-help").textContent = task.summary;
  buildFields($("train-fields"), task.fields.filter((f) => f.name !== "corpus"), "train");
  const corpus = task.fields.find((f) => f.name === "corpus"), select = $("train-corpus");
  select.replaceChildren();
  if (corpus) {
    if (corpus.default === null) select.append(el("option", {value: "", text: "(upload a file)"}));
    else select.append(el("option", {value: corpus.default, text: corpus.default + " (the task's default)"}));
    for (const c of CORPORA) if (c.name !== corpus.default) select.append(el("option", {value: c.name, text: `${c.name} (${c.kind})`}));
    for (const u of UPLOADS) select.append(el("option", {value: u.name, text: `${u.name} (uploaded)`}));
  }
}
let UPLOADS = [];

async function startTraining() {
  showError("train-error", null);
  try {
    const options = await readFields($("train-fields"));
    options.corpus = $("train-corpus").value;
    if ($("train-name").value.trim()) options.name = $("train-name").value.trim();
    const job = await api("/api/train", {method: "POST", json: {task: $("train-task").value, options}});
    watchJob(job);
  } catch (error) { showError("train-error", error); }
}

const watched = new Set();
function watchJob(job) {
  if (watched.has(job.id)) return;
  watched.add(job.id);
  const box = el("div", {class: "job", "data-job": job.id});
  const title = el("div", {class: "title"}), bar = el("div", {class: "bar"}, el("div")), status = el("div", {class: "status"});
  const curve = el("svg:svg", {class: "chart curve", viewBox: "0 0 600 220", preserveAspectRatio: "none"});
  const stop = el("button", {class: "stop", text: "Stop (saves latest.pt)"}), error = el("p", {class: "error"});
  stop.addEventListener("click", () => api(`/api/jobs/${job.id}/stop`, {method: "POST"}).catch((e) => { error.textContent = e.message; }));
  box.append(title, bar, status, curve, stop, error);
  $("jobs").prepend(box);
  const update = (j) => {
    title.textContent = `${j.run} (${j.task || "resumed"})`;
    bar.firstChild.style.width = (100 * j.fraction).toFixed(1) + "%";
    const figures = Object.entries(j.postfix).map(([k, v]) => `${k} ${v}`).join(" · ");
    status.textContent = `${j.state} · ${(100 * j.fraction).toFixed(0)}%` + (figures ? " · " + figures : "");
    status.dataset.fraction = j.fraction;
    lineChart(curve, [{cls: "train", points: j.points}], "% done");
    curve.dataset.points = j.points.length;
    error.textContent = j.error || "";
    stop.disabled = !["starting", "running"].includes(j.state);
  };
  update(job);
  const poll = async () => {
    try {
      const j = await api(`/api/jobs/${job.id}`);
      update(j);
      if (["finished", "interrupted", "failed"].includes(j.state)) {
        await loadRuns();
        if (current === j.run) openRun(j.run);
        return;
      }
    } catch (e) { error.textContent = e.message; }
    setTimeout(poll, 400);
  };
  setTimeout(poll, 300);
  setTimeout(loadRuns, 1500);
}

async function resumeRun() {
  showError("run-error", null);
  const options = {}, value = $("resume-value").value.trim();
  if (value) options[$("resume-option").value] = Number(value);
  try { watchJob(await api(`/api/runs/${encodeURIComponent(current)}/resume`, {method: "POST", json: {options}})); }
  catch (error) { showError("run-error", error); }
}

async function start() {
  try {
    const data = await api("/api/tasks");
    for (const task of data.tasks) TASKS[task.name] = task;
    CORPORA = data.corpora; UPLOADS = data.uploads; RESUMABLE = data.resumable;
    $("train-task").replaceChildren(...data.tasks.map((t) => el("option", {value: t.name, text: t.name})));
    for (const name of ["max_steps", "epochs", "max_time"]) if (RESUMABLE.includes(name)) $("resume-option").append(el("option", {value: name, text: name.replace("_", " ")}));
    fillTrainForm();
  } catch (error) { showError("train-error", error); }
  $("train-task").addEventListener("change", fillTrainForm);
  $("train-start").addEventListener("click", startTraining);
  $("upload-file").addEventListener("change", async () => {
    const file = $("upload-file").files[0];
    if (!file) return;
    showError("train-error", null);
    try {
      const saved = await upload(file);
      UPLOADS = (await api("/api/uploads")).uploads;
      fillTrainForm();
      $("train-corpus").value = saved.name;
    } catch (error) { showError("train-error", error); }
  });
  $("runs-refresh").addEventListener("click", loadRuns);
  $("try-go").addEventListener("click", tryModel);
  $("try-cancel").addEventListener("click", () => { if (stream) { stream.close(); stream = null; } $("try-cancel").disabled = true; $("try-go").disabled = false; });
  $("inspect-go").addEventListener("click", inspect);
  $("resume-go").addEventListener("click", resumeRun);
  await loadRuns();
  try { for (const job of (await api("/api/jobs")).jobs) if (["starting", "running", "stopping"].includes(job.state)) watchJob(job); } catch (e) { /* shown by the next poll */ }
  setInterval(loadRuns, 5000);
}
start();
