// nnforge playground: the page. It draws what the server's nnforge.scratch session sends (frames
// over one WebSocket) and sends back what the learner changes. Plain JS and canvas/SVG, no libraries.
"use strict";

const FEATURE_ORDER = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"];
const FEATURE_LABEL = {"x1": "x₁", "x2": "x₂", "x1^2": "x₁²", "x2^2": "x₂²", "x1*x2": "x₁·x₂", "sin(x1)": "sin x₁", "sin(x2)": "sin x₂"};
const DOMAIN = 6, CELL = 40, ROW = 50, TOP = 34, LEFT = 124;
const $ = (id) => document.getElementById(id);
const SVGNS = "http://www.w3.org/2000/svg";

const config = {
  data: {kind: "xor", samples: 500, noise: 0, train_ratio: 50, seed: 0, features: ["x1", "x2"]},
  network: {hidden: [4, 2], activation: "tanh", optimizer: "sgd", lr: 0.03, l1: 0, l2: 0, batch_size: 10},
};
let ws = null, frame = null, points = null, playing = false, history = [], frames = 0, structure = "";
let tipTarget = null, sendTimer = null, codePending = false;

// -- colours: -1 orange, 0 light grey, +1 blue, as TensorFlow Playground -------------------------
const LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 3), o = [245, 147, 34], m = [232, 234, 235], b = [8, 119, 189];
  for (let i = 0; i < 256; i++) {
    const t = i / 127.5 - 1, [from, to, f] = t < 0 ? [m, o, -t] : [m, b, t];
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = from[c] + (to[c] - from[c]) * f;
  }
  return lut;
})();

function decode(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function paint(canvas, b64) {
  const bytes = decode(b64), n = Math.round(Math.sqrt(bytes.length));
  const small = paint.buffers[n] || (paint.buffers[n] = Object.assign(document.createElement("canvas"), {width: n, height: n}));
  const ctx = small.getContext("2d"), img = ctx.createImageData(n, n);
  for (let i = 0; i < bytes.length; i++) {
    const k = bytes[i] * 3;
    img.data[i * 4] = LUT[k]; img.data[i * 4 + 1] = LUT[k + 1]; img.data[i * 4 + 2] = LUT[k + 2]; img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  const out = canvas.getContext("2d");
  out.imageSmoothingEnabled = true;
  out.drawImage(small, 0, 0, canvas.width, canvas.height);
}
paint.buffers = {};

// -- the connection ------------------------------------------------------------------------------
function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onopen = () => sendConfig(true);
  ws.onmessage = (event) => receive(JSON.parse(event.data));
  ws.onclose = () => { setPlaying(false); showError("the session has ended (tab idle, server stopped or full): reload the page to start again", true); };
}

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function sendConfig(now) {
  clearTimeout(sendTimer);
  const go = () => { history = []; setPlaying(false); send({type: "configure", ...config}); };
  if (now) go(); else sendTimer = setTimeout(go, 120);
}

function receive(msg) {
  if (msg.type === "frame") return onFrame(msg);
  if (msg.type === "points") { points = msg; return; }
  if (msg.type === "error") return showError(msg.message);
  if (msg.type === "code") {
    codePending = false;
    $("code-python").textContent = msg.python;
    $("code-recipe").textContent = msg.recipe;
    $("code").hidden = false;
    document.body.dataset.codeStep = String(msg.step);
  }
}

let errorTimer = null;
function showError(text, sticky) {
  const box = $("error");
  box.textContent = text; box.hidden = false;
  document.body.dataset.error = text;
  clearTimeout(errorTimer);
  if (!sticky) errorTimer = setTimeout(() => { box.hidden = true; }, 6000);
}

// -- frames --------------------------------------------------------------------------------------
function onFrame(f) {
  if (frame && f.step < frame.step) history = [];
  frame = f; frames++;
  if (f.train_loss !== null && (!history.length || history[history.length - 1].step !== f.step))
    history.push({step: f.step, train: f.train_loss, test: f.test_loss});
  if (history.length > 1200) history = history.filter((_, i) => i % 2 === 0 || i === history.length - 1);
  const sizes = [f.weights[0][0].length, ...f.weights.map((w) => w.length)].join("-");
  if (sizes !== structure) buildNetwork(f);
  setPlaying(f.playing);
  drawNetwork(f);
  drawBoundary();
  drawCurve();
  $("epoch").textContent = Math.floor(f.epoch).toString().padStart(3, "0");
  $("stepcount").textContent = f.step;
  $("test-loss").textContent = fmt(f.test_loss, 3);
  $("train-loss").textContent = fmt(f.train_loss, 3);
  Object.assign(document.body.dataset, {ready: "1", step: f.step, frames, testLoss: f.test_loss, trainLoss: f.train_loss, playing: f.playing ? "1" : "0"});
  if (tipTarget) showTip(tipTarget);
  // an open code panel follows the page whenever it stops (Pause, Step, Reset, a new setting)
  if (!$("code").hidden && !f.playing && String(f.step) !== document.body.dataset.codeStep && !codePending) {
    codePending = true; send({type: "code"});
  }
}

function fmt(v, digits = 3) {
  return v === null || v === undefined ? "–" : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(digits);
}

// -- the network picture -------------------------------------------------------------------------
function columnX(k, count) {
  const width = $("network").clientWidth - LEFT - CELL - 10;
  return LEFT + (count > 1 ? (k * width) / (count - 1) : 0);
}

function neuronY(j, n, k) {
  return k === 0 ? TOP + j * ROW : TOP + j * ROW + (k === -1 ? ((FEATURE_ORDER.length - 1) * ROW) / 2 - ((n - 1) * ROW) / 2 : 0);
}

function buildNetwork(f) {
  const net = $("network"), svg = $("links");
  net.querySelectorAll(".neuron, .feature-label, .neuron-ctl, .neuron-count").forEach((e) => e.remove());
  svg.innerHTML = "";
  const hidden = f.weights.slice(0, -1).map((w) => w.length), cols = hidden.length + 2;
  structure = [f.weights[0][0].length, ...f.weights.map((w) => w.length)].join("-");
  const selected = config.data.features;
  const place = (el, x, y) => { el.style.left = `${x}px`; el.style.top = `${y}px`; net.appendChild(el); return el; };
  // inputs: every feature, chosen ones take part
  FEATURE_ORDER.forEach((name, row) => {
    const label = place(document.createElement("label"), 0, TOP + row * ROW + 10);
    label.className = "feature-label";
    const box = Object.assign(document.createElement("input"), {type: "checkbox", checked: selected.includes(name)});
    box.setAttribute("aria-label", `use feature ${name}`);
    box.onchange = () => toggleFeature(name, box);
    label.append(box, FEATURE_LABEL[name]);
    const idx = selected.indexOf(name);
    const c = place(neuronCanvas(idx < 0 ? null : {kind: "input", layer: 0, j: idx, name}), columnX(0, cols) - CELL, TOP + row * ROW);
    c.classList.add("input");
    if (idx < 0) c.classList.add("off");
  });
  hidden.forEach((n, l) => {
    const x = columnX(l + 1, cols) - CELL / 2;
    const ctl = place(document.createElement("div"), x - 6, 0);
    ctl.className = "neuron-ctl";
    ctl.append(button("+", `add a neuron to layer ${l + 1}`, () => changeNeurons(l, 1)),
               button("−", `remove a neuron from layer ${l + 1}`, () => changeNeurons(l, -1)));
    const count = place(document.createElement("div"), x - 15, TOP - 14);
    count.className = "neuron-count"; count.textContent = `${n} neuron${n > 1 ? "s" : ""}`;
    for (let j = 0; j < n; j++) place(neuronCanvas({kind: "hidden", layer: l + 1, j}), x, neuronY(j, n, l + 1));
  });
  place(neuronCanvas({kind: "output", layer: cols - 1, j: 0}), columnX(cols - 1, cols), neuronY(0, 1, -1));
  // weights: a visible line and a wide transparent one to hover
  f.weights.forEach((w, l) => {
    const nOut = l === f.weights.length - 1 ? 1 : w.length;
    for (let j = 0; j < nOut; j++) for (let i = 0; i < w[0].length; i++) {
      const [x1, y1] = anchor(l, i, "right"), [x2, y2] = anchor(l + 1, j, "left");
      for (const cls of ["wire", "hit"]) {
        const line = document.createElementNS(SVGNS, "line");
        Object.entries({x1, y1, x2, y2, class: cls, "data-l": l, "data-i": i, "data-j": j}).forEach(([k, v]) => line.setAttribute(k, v));
        if (cls === "hit") hoverable(line, {kind: "weight", layer: l, i, j});
        svg.appendChild(line);
      }
    }
  });
  $("layer-count").textContent = hidden.length;
}

function anchor(col, j, side) {
  const el = $("network").querySelector(`canvas[data-col="${col}"][data-j="${j}"]`);
  const x = parseFloat(el.style.left) + (side === "right" ? CELL : 0);
  return [x, parseFloat(el.style.top) + CELL / 2];
}

function button(text, label, onclick) {
  const b = Object.assign(document.createElement("button"), {textContent: text, onclick});
  b.setAttribute("aria-label", label);
  return b;
}

function neuronCanvas(target) {
  const c = Object.assign(document.createElement("canvas"), {width: CELL, height: CELL, className: "neuron"});
  if (!target) return c;
  c.dataset.col = target.layer; c.dataset.j = target.j;
  c.tabIndex = 0;
  c.setAttribute("aria-label", target.kind === "input" ? `input ${target.name}` : target.kind === "output" ? "output" : `layer ${target.layer} neuron ${target.j + 1}`);
  hoverable(c, target);
  return c;
}

function hoverable(el, target) {
  const on = (e) => { tipTarget = {...target, x: e.clientX, y: e.clientY, el}; showTip(tipTarget); };
  el.addEventListener("mouseenter", on); el.addEventListener("mousemove", on);
  el.addEventListener("focus", () => { const r = el.getBoundingClientRect(); on({clientX: r.right, clientY: r.bottom}); });
  for (const ev of ["mouseleave", "blur"]) el.addEventListener(ev, () => { tipTarget = null; $("tooltip").hidden = true; });
}

function drawNetwork(f) {
  const net = $("network"), last = f.weights.length - 1;
  net.querySelectorAll("canvas.neuron[data-col]").forEach((c) => {
    const col = +c.dataset.col, j = +c.dataset.j;
    if (col === f.weights.length) paint(c, f.boundary);
    else paint(c, f.neurons[col][j].image);
  });
  $("links").querySelectorAll("line.wire").forEach((line) => {
    const l = +line.dataset.l, i = +line.dataset.i, j = +line.dataset.j;
    const w = l === last ? f.weights[l][1][i] - f.weights[l][0][i] : f.weights[l][j][i];
    line.setAttribute("stroke", w === null || w === undefined || isNaN(w) ? "#999" : w > 0 ? "#0877bd" : "#f59322");
    line.setAttribute("stroke-width", Math.min(8, 0.5 + Math.abs(w || 0) * 2).toFixed(2));
    line.setAttribute("stroke-opacity", "0.8");
  });
}

function showTip(t) {
  if (!frame) return;
  const f = frame, last = f.weights.length - 1, tip = $("tooltip");
  const g = (arr, ...ix) => ix.reduce((a, k) => (a === null || a === undefined ? null : a[k]), arr);
  const range = (p) => `its output over the plane: ${fmt(p.min)} to ${fmt(p.max)}`;
  let html;
  if (t.kind === "input") html = `<b>${FEATURE_LABEL[t.name]}</b> (input)<br>${range(f.neurons[0][t.j])}`;
  else if (t.kind === "hidden") {
    html = `<b>layer ${t.layer}, neuron ${t.j + 1}</b><br>bias b = ${fmt(g(f.biases, t.layer - 1, t.j), 4)}` +
      `<br>gradient ∂L/∂b = ${fmt(g(f.bias_grads, t.layer - 1, t.j), 4)}<br>${range(f.neurons[t.layer][t.j])}`;
  } else if (t.kind === "output") {
    html = `<b>output</b>: 2·P(blue) − 1 over the plane<br>biases (orange, blue) = ${fmt(g(f.biases, last, 0), 4)}, ${fmt(g(f.biases, last, 1), 4)}` +
      `<br>gradients ∂L/∂b = ${fmt(g(f.bias_grads, last, 0), 4)}, ${fmt(g(f.bias_grads, last, 1), 4)}`;
  } else {
    const from = t.layer === 0 ? FEATURE_LABEL[config.data.features[t.i]] : `layer ${t.layer} neuron ${t.i + 1}`;
    if (t.layer === last) {
      html = `<b>weights from ${from} to the output</b><br>to blue: w = ${fmt(g(f.weights, last, 1, t.i), 4)}, ∂L/∂w = ${fmt(g(f.weight_grads, last, 1, t.i), 4)}` +
        `<br>to orange: w = ${fmt(g(f.weights, last, 0, t.i), 4)}, ∂L/∂w = ${fmt(g(f.weight_grads, last, 0, t.i), 4)}` +
        `<br>line: blue − orange = ${fmt(g(f.weights, last, 1, t.i) - g(f.weights, last, 0, t.i), 4)}`;
    } else {
      html = `<b>weight from ${from} to layer ${t.layer + 1} neuron ${t.j + 1}</b><br>w = ${fmt(g(f.weights, t.layer, t.j, t.i), 4)}` +
        `<br>gradient ∂L/∂w = ${fmt(g(f.weight_grads, t.layer, t.j, t.i), 4)}`;
    }
  }
  tip.innerHTML = html + (f.step ? `<br><span style="color:#666">gradients of step ${f.step}'s batch</span>` : "");
  tip.hidden = false;
  tip.style.left = `${Math.min(t.x + 14, innerWidth - 300)}px`;
  tip.style.top = `${t.y + 14}px`;
}

// -- output: boundary with points, loss curves ---------------------------------------------------
function drawBoundary() {
  const canvas = $("boundary"), ctx = canvas.getContext("2d");
  if (!frame) return;
  paint(canvas, frame.boundary);
  if (!points) return;
  const px = (x) => ((x + DOMAIN) / (2 * DOMAIN)) * canvas.width, py = (y) => ((DOMAIN - y) / (2 * DOMAIN)) * canvas.height;
  const draw = (set, stroke) => set.xy.forEach(([x, y], k) => {
    ctx.beginPath(); ctx.arc(px(x), py(y), 3.2, 0, 2 * Math.PI);
    ctx.fillStyle = set.label[k] ? "#0877bd" : "#f59322"; ctx.fill();
    ctx.strokeStyle = stroke; ctx.lineWidth = 0.8; ctx.stroke();
  });
  draw(points.train, "#fff");
  if ($("show-test").checked) draw(points.test, "#000");
}

function drawCurve() {
  const canvas = $("curve"), ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  if (history.length < 1) return;
  const top = Math.max(0.1, ...history.map((p) => Math.max(p.train || 0, p.test || 0)).filter(isFinite));
  const first = history[0].step, span = Math.max(1, history[history.length - 1].step - first);
  for (const [key, colour] of [["train", "#999"], ["test", "#222"]]) {
    ctx.beginPath(); ctx.strokeStyle = colour; ctx.lineWidth = 1.5;
    history.forEach((p, k) => {
      const x = ((p.step - first) / span) * (w - 2) + 1, y = h - 2 - (Math.min(p[key] || 0, top) / top) * (h - 6);
      k ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  }
  ctx.fillStyle = "#666"; ctx.font = "11px sans-serif"; ctx.fillText(`loss ${fmt(top, 2)}`, 4, 11);
}

// -- controls ------------------------------------------------------------------------------------
function setPlaying(value) {
  playing = value;
  $("play").innerHTML = value ? "&#x275A;&#x275A; Pause" : "&#x25B6; Play";
  $("play").setAttribute("aria-label", value ? "pause" : "play");
}

function togglePlay() { setPlaying(!playing); send({type: playing ? "play" : "pause"}); }
function step() { setPlaying(false); send({type: "step"}); }
function reset() { setPlaying(false); history = []; send({type: "reset"}); }

function toggleFeature(name, box) {
  const chosen = new Set(config.data.features);
  if (box.checked) chosen.add(name); else if (chosen.size > 1) chosen.delete(name); else { box.checked = true; return; }
  config.data.features = FEATURE_ORDER.filter((f) => chosen.has(f));
  structure = "";
  sendConfig();
}

function changeNeurons(layer, delta) {
  const n = config.network.hidden[layer] + delta;
  if (n < 1 || n > 8) return;
  config.network.hidden[layer] = n; sendConfig();
}

function bindControls() {
  $("play").onclick = togglePlay; $("step").onclick = step; $("reset").onclick = reset;
  $("add-layer").onclick = () => { if (config.network.hidden.length < 6) { config.network.hidden.push(2); sendConfig(); } };
  $("remove-layer").onclick = () => { if (config.network.hidden.length > 0) { config.network.hidden.pop(); sendConfig(); } };
  document.querySelectorAll("#datasets button").forEach((b) => {
    b.setAttribute("role", "radio");
    b.onclick = () => {
      document.querySelectorAll("#datasets button").forEach((o) => { o.classList.toggle("selected", o === b); o.setAttribute("aria-checked", o === b); });
      config.data.kind = b.dataset.kind; sendConfig();
    };
  });
  const number = (id, section, key, parse = Number) => {
    $(id).addEventListener("change", () => {
      const v = parse($(id).value);
      if (!isFinite(v)) return showError(`${id}: not a number`);
      config[section][key] = v; sendConfig();
    });
  };
  for (const [id, key] of [["ratio", "train_ratio"], ["noise", "noise"], ["samples", "samples"]]) {
    $(id).addEventListener("input", () => { $(`${id}-out`).textContent = $(id).value; });
    number(id, "data", key);
  }
  number("seed", "data", "seed"); number("lr", "network", "lr"); number("l1", "network", "l1");
  number("l2", "network", "l2"); number("batch", "network", "batch_size");
  for (const id of ["activation", "optimizer"]) $(id).addEventListener("change", () => { config.network[id] = $(id).value; sendConfig(); });
  $("show-test").onchange = drawBoundary;
  $("show-code").onclick = () => send({type: "code"});
  document.querySelectorAll("button.copy").forEach((b) => {
    b.onclick = () => {
      const text = $(b.dataset.target).textContent;
      const done = () => { b.textContent = "Copied"; setTimeout(() => { b.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => selectText(b.dataset.target)); else selectText(b.dataset.target);
    };
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === " " && e.target.tagName !== "BUTTON") { e.preventDefault(); togglePlay(); }
    else if (e.key === "s" || e.key === "S") step();
    else if (e.key === "r" || e.key === "R") reset();
  });
  addEventListener("resize", () => { structure = ""; if (frame) onFrame(frame); });
}

function selectText(id) {
  const range = document.createRange(); range.selectNodeContents($(id));
  const sel = getSelection(); sel.removeAllRanges(); sel.addRange(range);
}

bindControls();
connect();
