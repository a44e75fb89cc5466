"""The inspection page: one self-contained HTML file (no network access, no CDN; it opens from disk) with the
input laid out as it reads, each token coloured by one quantity of one unit, every value and the prediction
on hover, the most telling units, and a gate-saturation chart per layer.

Values travel in the page as 8-bit codes (gates over 0..1, g and h over −1..1, C over ±its unit's largest
|C|), so they show to about 0.004 (C: its scale / 127); the .npz of `--save` holds them exactly.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from seqgen.config import check
from seqgen.errors import SeqgenError
from seqgen.files import write_atomically
from seqgen.inspect.features import FEATURE_NAMES, describe, unranked_reason
from seqgen.models.gates import NAMES, QUANTITIES

MAX_PAGE_STEPS = 3000  # the page shows at most the first this many steps (a 2×256 model: a 12 MB page)
GATE_COLOURS = {"i": "#1b9e77", "f": "#2c6fbb", "o": "#d95f02"}


def _codes(values: np.ndarray, quantity: str, scale: np.ndarray) -> np.ndarray:
    """(L, T, U) → uint8 codes laid out (L, U, T), so one unit's steps are contiguous."""
    values = values.transpose(0, 2, 1)  # (L, U, T)
    if quantity == "c":
        values = values / scale[:, :, None]
    share = values if quantity in ("i", "f", "o") else values * 0.5 + 0.5  # 0..1
    return np.clip(np.rint(share * 255), 0, 255).astype(np.uint8)


def page_data(inspection, steps: int, layer: int, unit: int, quantity: str) -> dict:
    gates = {q: inspection.gates[q][:, :steps] for q in QUANTITIES}
    scale = np.maximum(np.abs(gates["c"]).max(axis=1), 1e-6)  # (L, U)
    data = {
        "kind": inspection.kind, "layers": inspection.layers, "units": inspection.units, "steps": steps,
        "total_steps": inspection.steps, "directions": inspection.directions,
        "per_direction": inspection.units // inspection.directions,
        "labels": [str(label) for label in inspection.labels[:steps]],
        "names": NAMES, "quantities": list(QUANTITIES), "cscale": scale.round(6).ravel().tolist(),
        "codes": {q: base64.b64encode(_codes(gates[q], q, scale).tobytes()).decode("ascii") for q in QUANTITIES},
        "start": {"layer": layer, "unit": unit, "quantity": quantity},
        "ranking": [{**entry, "text": describe(entry, inspection.units // inspection.directions
                                               if inspection.directions == 2 else None),
                     "feature_name": FEATURE_NAMES.get(entry["feature"], entry["feature"])}
                    for entry in inspection.ranking()],
    }
    if not data["ranking"]:
        data["unranked"] = unranked_reason(inspection)
    if inspection.top_probs is not None:
        data["top"] = [[[str(label), round(float(p), 4)] for label, p in zip(labels, probs)]
                       for labels, probs in zip(inspection.top_labels[:steps], inspection.top_probs[:steps])]
    if inspection.values is not None:
        data["values"] = [float(v) for v in np.asarray(inspection.values)[:steps]]
    if inspection.forecast is not None:
        data["forecast"] = [float(v) for v in np.asarray(inspection.forecast)[:steps]]
    return data


def saturation_svg(inspection, layer: int) -> str:
    """Karpathy et al. (2015), figure 3: one dot per unit and gate, the share of steps it spends left-saturated
    (below 0.1, across) and right-saturated (above 0.9, up)."""
    size, left, top = 170, 34, 24
    shares = inspection.saturation()
    dots = []
    for quantity, colour in GATE_COLOURS.items():
        for below, above in shares[quantity][layer]:
            x, y = left + below * size, top + (1 - above) * size
            dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="{colour}" fill-opacity="0.55"/>')
    legend = "".join(f'<circle cx="{left + 4 + k * 62}" cy="{top + size + 38}" r="4" fill="{colour}"/>'
                     f'<text x="{left + 11 + k * 62}" y="{top + size + 42}" font-size="11">{NAMES[q].split()[0]}</text>'
                     for k, (q, colour) in enumerate(GATE_COLOURS.items()))
    width, height = left + size + 8, top + size + 50
    return (f'<svg class="saturation" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="gate saturation, layer {layer}"><text x="{left}" y="15" font-size="12" font-weight="bold">'
            f'layer {layer}</text>'
            f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="#fff" stroke="#999"/>'
            f'<line x1="{left}" y1="{top + size}" x2="{left + size}" y2="{top}" stroke="#ccc" stroke-dasharray="3 3"/>'
            + "".join(dots) + legend +
            f'<text x="{left + size / 2}" y="{top + size + 16}" font-size="11" text-anchor="middle">share of steps '
            f'&lt; 0.1</text><text x="12" y="{top + size / 2}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + size / 2})">share of steps &gt; 0.9</text></svg>')


def write_page(inspection, path, layer: int | None = None, unit: int | None = None, quantity: str | None = None,
               max_steps: int = MAX_PAGE_STEPS, title: str | None = None) -> Path:
    """Write the page; it starts on (layer, unit, quantity), by default the most telling unit."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise SeqgenError(f"--html writes a web page; give a name ending in .html, not {path.name}")
    layer, unit, quantity = start_view(inspection, layer, unit, quantity)
    steps = min(inspection.steps, max_steps)
    data = page_data(inspection, steps, layer, unit, quantity)
    title = title or inspection.title or "LSTM gates"
    note = (f"The page shows the first {steps:,} of {inspection.steps:,} steps; --save keeps them all."
            if steps < inspection.steps else "")
    charts = "".join(saturation_svg(inspection, k) for k in range(inspection.layers))
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    text = (TEMPLATE.replace("{{title}}", html.escape(title)).replace("{{note}}", html.escape(note))
            .replace("{{charts}}", charts).replace("{{data}}", payload).replace("{{script}}", SCRIPT))
    return write_atomically(path, lambda f: f.write(text), "w")


def start_view(inspection, layer, unit, quantity) -> tuple[int, int, str]:
    """The unit a page or heat map starts on: the one asked for, else the most telling one, else unit 0's C."""
    layer, unit = (check(f"--{name}", value, int, optional=True, min=0) for name, value in (("layer", layer),
                                                                                             ("unit", unit)))
    best = (inspection.ranking(1) or [{"layer": inspection.layers - 1, "unit": 0, "quantity": "c"}])[0]
    layer = best["layer"] if layer is None else layer
    unit = best["unit"] if unit is None else unit
    quantity = (best["quantity"] if layer == best["layer"] and unit == best["unit"] else "c") if quantity is None else quantity
    if not 0 <= layer < inspection.layers:
        raise SeqgenError(f"--layer {layer} is out of range: this model has layers 0 to {inspection.layers - 1}")
    if not 0 <= unit < inspection.units:
        raise SeqgenError(f"--unit {unit} is out of range: its layers have units 0 to {inspection.units - 1}")
    if quantity not in QUANTITIES:
        raise SeqgenError(f"--quantity must be one of {', '.join(QUANTITIES)}, not {quantity!r}")
    return layer, unit, quantity


TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { padding: 10px 18px 4px; }
h1 { font-size: 18px; margin: 0 0 4px; }
h2 { font-size: 14px; margin: 14px 0 6px; }
#controls { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid #ddd; padding: 8px 18px;
            display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; }
#controls button { font: inherit; padding: 2px 8px; cursor: pointer; border: 1px solid #bbb; background: #f4f4f4;
                   border-radius: 3px; }
#controls button.on { background: #2c6fbb; color: #fff; border-color: #2c6fbb; }
#unit { width: 5em; font: inherit; }
#legend { display: inline-block; width: 180px; height: 12px; border: 1px solid #ccc; vertical-align: middle; }
#main { display: flex; gap: 18px; padding: 12px 18px; align-items: flex-start; }
#text { flex: 1 1 auto; background: #fff; border: 1px solid #ddd; padding: 12px; min-width: 0; }
#text.text { font: 15px/1.7 ui-monospace, Menlo, Consolas, monospace; white-space: pre-wrap; word-break: break-all; }
#text.music { font: 12px/2 ui-monospace, Menlo, Consolas, monospace; }
#text.music .tok { margin-right: 3px; }
#text .tok { cursor: crosshair; border-radius: 2px; }
#text .tok.here { outline: 2px solid #000; }
#text.series .cells { display: flex; height: 34px; }
#text.series .tok { flex: 1 1 0; min-width: 1px; }
#chart { width: 100%; height: 150px; display: block; }
aside { flex: 0 0 330px; position: sticky; top: 52px; max-height: calc(100vh - 64px); overflow: auto; }
#info { background: #fff; border: 1px solid #ddd; padding: 8px; min-height: 150px; font-size: 13px; }
#info table { border-collapse: collapse; }
#info td { padding: 0 8px 0 0; }
#ranking { padding-left: 28px; margin: 0; }
#ranking li { margin-bottom: 3px; }
#ranking button { font: inherit; font-size: 12px; text-align: left; border: none; background: none; color: #2c6fbb;
                  cursor: pointer; padding: 0; }
.note { color: #666; font-size: 12px; }
#charts { display: flex; flex-wrap: wrap; gap: 8px; }
kbd { border: 1px solid #bbb; border-radius: 3px; padding: 0 3px; font-size: 11px; background: #fff; }
</style>
</head>
<body>
<header>
<h1>{{title}}</h1>
<div class="note">Hover a token for every value of the chosen unit and the model's prediction at that step.
Keys: <kbd>←</kbd> <kbd>→</kbd> unit, <kbd>↑</kbd> <kbd>↓</kbd> layer, <kbd>i</kbd> <kbd>f</kbd> <kbd>g</kbd>
<kbd>o</kbd> <kbd>c</kbd> <kbd>h</kbd> quantity. {{note}}</div>
</header>
<div id="controls">
<span>layer <button id="layer-prev" title="previous layer (↓)">◀</button> <b id="layer"></b>
<button id="layer-next" title="next layer (↑)">▶</button></span>
<span>unit <button id="unit-prev" title="previous unit (←)">◀</button> <input id="unit" type="number" min="0">
<button id="unit-next" title="next unit (→)">▶</button> <span id="units" class="note"></span>
<span id="direction" class="note"></span></span>
<span id="quantity-buttons"></span>
<span><span id="legend"></span> <span id="range" class="note"></span></span>
</div>
<div id="main">
<div id="text"></div>
<aside>
<div id="info"><span class="note">Hover a token.</span></div>
<h2>Most telling units</h2>
<div class="note">Units whose C or h follows a simple feature of the input most closely (Pearson r over all steps,
the steady drift through the input taken out of both: a unit that only drifts follows no feature).</div>
<ol id="ranking"></ol>
<h2>Gate saturation</h2>
<div class="note">Each dot is one unit's gate: the share of steps it is below 0.1 (across) and above 0.9 (up).</div>
<div id="charts">{{charts}}</div>
</aside>
</div>
<script id="data" type="application/json">{{data}}</script>
<script>
{{script}}
</script>
</body>
</html>
"""

SCRIPT = r"""
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const L = D.layers, U = D.units, T = D.steps;
const codes = {};
for (const q of D.quantities) {
  const raw = atob(D.codes[q]);
  const bytes = new Uint8Array(raw.length);
  for (let k = 0; k < raw.length; k++) bytes[k] = raw.charCodeAt(k);
  codes[q] = bytes;
}
const view = {layer: D.start.layer, unit: D.start.unit, quantity: D.start.quantity};
const GATES = new Set(["i", "f", "o"]);

function value(q, l, u, t) {
  const code = codes[q][(l * U + u) * T + t];
  if (GATES.has(q)) return code / 255;
  const v = code / 127.5 - 1;
  return q === "c" ? v * D.cscale[l * U + u] : v;
}

function shade(q, l, u, t) {  // a gate: white to blue over 0..1; g, h, C: red below 0, blue above (C over its unit's range)
  const code = codes[q][(l * U + u) * T + t];
  const x = GATES.has(q) ? code / 255 : code / 127.5 - 1;
  const a = Math.min(1, Math.abs(x)) * 0.85;
  return x >= 0 ? `rgba(44,111,187,${a.toFixed(3)})` : `rgba(200,40,40,${a.toFixed(3)})`;
}

const text = document.getElementById("text");
text.className = D.kind;
const tokens = [];

function addToken(parent, t, label) {
  const span = document.createElement("span");
  span.className = "tok";
  span.dataset.t = t;
  span.textContent = label;
  parent.appendChild(span);
  tokens.push(span);
  return span;
}

if (D.kind === "series") {
  const values = D.values, low = Math.min(...values), high = Math.max(...values), width = Math.max(1, T - 1);
  const points = values.map((v, t) => `${(t / width * 1000).toFixed(1)},${(140 - (v - low) / ((high - low) || 1) * 130).toFixed(1)}`);
  text.insertAdjacentHTML("beforeend", `<svg id="chart" viewBox="-5 0 1010 150" preserveAspectRatio="none">
    <polyline points="${points.join(" ")}" fill="none" stroke="#333" stroke-width="1.5" vector-effect="non-scaling-stroke"/></svg>`);
  const cells = document.createElement("div");
  cells.className = "cells";
  text.appendChild(cells);
  D.labels.forEach((label, t) => { addToken(cells, t, "").title = label; });
} else {
  D.labels.forEach((label, t) => {
    if (D.kind === "music" && label === "bar" && t > 0) text.appendChild(document.createElement("br"));
    if (D.kind === "text" && label.includes("\n")) {
      addToken(text, t, label.replace(/\n/g, "↵"));
      text.appendChild(document.createTextNode("\n"));
    } else {
      addToken(text, t, label);
    }
  });
}

const quantityButtons = document.getElementById("quantity-buttons");
for (const q of D.quantities) {
  const button = document.createElement("button");
  button.dataset.q = q;
  button.textContent = `${q} · ${D.names[q]}`;
  button.addEventListener("click", () => { view.quantity = q; render(); });
  quantityButtons.appendChild(button);
}
const unitInput = document.getElementById("unit");
unitInput.max = U - 1;

function render() {
  const {layer, unit, quantity} = view;
  for (let t = 0; t < T; t++) tokens[t].style.backgroundColor = shade(quantity, layer, unit, t);
  // numbered from 0, as --layer, --unit and the ranking number them: "1 (layers 0–1)" is the second of two
  document.getElementById("layer").textContent = `${layer} (layers 0–${L - 1})`;
  unitInput.value = unit;
  document.getElementById("units").textContent = `(units 0–${U - 1})`;
  document.getElementById("direction").textContent = D.directions === 2
    ? (unit < D.per_direction ? "forward" : `backward ${unit - D.per_direction}`) : "";
  for (const b of quantityButtons.children) b.classList.toggle("on", b.dataset.q === quantity);
  const legend = document.getElementById("legend");
  legend.style.background = GATES.has(quantity) ? "linear-gradient(90deg, #fff, rgba(44,111,187,0.85))"
    : "linear-gradient(90deg, rgba(200,40,40,0.85), #fff, rgba(44,111,187,0.85))";
  document.getElementById("range").textContent = GATES.has(quantity) ? "0 … 1"
    : quantity === "c" ? `−${D.cscale[layer * U + unit].toFixed(2)} … +${D.cscale[layer * U + unit].toFixed(2)}` : "−1 … +1";
  if (current !== null) show(current);
}

let current = null;
function show(t) {
  if (current !== null && tokens[current]) tokens[current].classList.remove("here");
  current = t;
  tokens[t].classList.add("here");
  const {layer, unit} = view;
  const rows = D.quantities.map(q => `<tr><td>${q}</td><td>${D.names[q]}</td><td><b>${value(q, layer, unit, t).toFixed(3)}</b></td></tr>`);
  const escape = s => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/\n/g, "↵").replace(/ /g, "␣");
  let prediction = "";
  if (D.top) prediction = "<div>next, as the model predicts: " + D.top[t].map(([s, p]) => `<code>${escape(s)}</code> ${(100 * p).toFixed(1)}%`).join(", ") + "</div>";
  if (D.forecast) prediction = `<div>value ${D.values[t].toPrecision(5)}; one-step forecast after it ${D.forecast[t].toPrecision(5)}</div>`;
  document.getElementById("info").innerHTML = `<div>step ${t}: <code>${escape(D.labels[t])}</code> — layer ${layer}, unit ${unit}</div>`
    + `<table>${rows.join("")}</table>${prediction}`;
}

text.addEventListener("mouseover", event => {
  const t = event.target.dataset ? event.target.dataset.t : undefined;
  if (t !== undefined) show(Number(t));
});

function move(layerStep, unitStep) {
  view.layer = (view.layer + layerStep + L) % L;
  view.unit = (view.unit + unitStep + U) % U;
  render();
}
document.getElementById("layer-prev").addEventListener("click", () => move(-1, 0));
document.getElementById("layer-next").addEventListener("click", () => move(1, 0));
document.getElementById("unit-prev").addEventListener("click", () => move(0, -1));
document.getElementById("unit-next").addEventListener("click", () => move(0, 1));
unitInput.addEventListener("change", () => {
  const u = Number(unitInput.value);
  if (Number.isInteger(u) && u >= 0 && u < U) { view.unit = u; }
  render();
});
document.addEventListener("keydown", event => {
  if (event.target === unitInput) return;  // the number box handles its own keys
  const keys = {ArrowRight: [0, 1], ArrowLeft: [0, -1], ArrowUp: [1, 0], ArrowDown: [-1, 0]};
  if (keys[event.key]) { event.preventDefault(); move(...keys[event.key]); }
  else if (D.quantities.includes(event.key)) { view.quantity = event.key; render(); }
});

const ranking = document.getElementById("ranking");
if (!D.ranking.length) {
  const note = document.createElement("div");
  note.className = "note";
  note.textContent = D.unranked[0].toUpperCase() + D.unranked.slice(1) + ".";
  ranking.replaceWith(note);
}
for (const entry of D.ranking) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.textContent = entry.text;
  button.addEventListener("click", () => { view.layer = entry.layer; view.unit = entry.unit; view.quantity = entry.quantity; render(); });
  item.appendChild(button);
  ranking.appendChild(item);
}
render();
"""
