// nnforge prediction page: draw or drop an image (or paste a tabular row), see class probabilities
// and where the network looked: a saliency map, or each feature's share.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas"), ctx = canvas.getContext("2d");
  let meta = null, drawing = false, last = null, dirty = false, pending = null, ink = "#fff", paper = "#000";

  function clearCanvas() {
    ctx.fillStyle = paper; ctx.fillRect(0, 0, canvas.width, canvas.height); dirty = false;
  }

  function showError(message) {
    const el = $("error"); el.textContent = message; el.hidden = !message;
  }

  function renderValue(result) {
    // A regression run: the predicted number(s) in the target's own units, no bars.
    $("answer").innerHTML = "";
    $("answer").classList.remove("muted");
    $("answer").append(document.createTextNode(+result.value.toPrecision(5)));
    const small = document.createElement("small"); small.textContent = meta.classes[0];
    $("answer").append(small);
    const bars = $("bars"); bars.innerHTML = "";
    for (const [name, value] of Object.entries(result.values)) {
      const row = document.createElement("div"); row.className = "bar";
      row.innerHTML = '<span class="label"></span><span class="pct"></span>';
      row.querySelector(".label").textContent = name;
      row.querySelector(".pct").textContent = String(+value.toPrecision(5));
      bars.append(row);
    }
  }

  function renderBars(result) {
    if (meta.task === "regress") { renderValue(result); return; }
    const probs = new Map(result.top.map((t) => [t.index, t.probability]));
    const shown = meta.classes.length <= 20 ? meta.classes.map((c, i) => ({ class: c, index: i, probability: probs.get(i) || 0 }))
                                            : result.top;
    $("answer").innerHTML = "";
    $("answer").classList.remove("muted");
    $("answer").append(document.createTextNode(result.class));
    const small = document.createElement("small"); small.textContent = (100 * result.probability).toFixed(1) + "%";
    $("answer").append(small);
    const bars = $("bars"); bars.innerHTML = "";
    for (const t of shown) {
      const row = document.createElement("div"); row.className = "bar" + (t.index === result.top[0].index ? " top" : "");
      row.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
      row.querySelector(".label").textContent = t.class;
      row.querySelector(".pct").textContent = (100 * t.probability).toFixed(1) + "%";
      bars.append(row);
      requestAnimationFrame(() => { row.querySelector(".fill").style.width = (100 * t.probability).toFixed(2) + "%"; });
    }
  }

  async function post(path, body, headers) {
    const t0 = performance.now();
    const response = await fetch(path + "?k=" + meta.classes.length, { method: "POST", body, headers });
    const data = await response.json();
    if (!response.ok) {
      const detail = typeof data.detail === "string" ? data.detail : data.detail ? JSON.stringify(data.detail) : "";
      throw new Error(data.error + (detail ? ": " + detail : ""));
    }
    $("latency").textContent = "· " + Math.round(performance.now() - t0) + " ms";
    return data;
  }

  // The pictures stay hidden until they have something to show (an <img> without a source is a broken-image icon).
  function showImage(id, src) { const img = $(id); img.src = src; img.hidden = false; }
  function hideImage(id) { const img = $(id); img.removeAttribute("src"); img.hidden = true; }

  async function predictBlob(blob) {
    const form = new FormData(); form.append("file", blob, "input.png");
    const explain = $("explain-toggle").checked;
    try {
      const result = await post(explain ? "/v1/explain" : "/v1/predict", form);
      showError(""); renderBars(result);
      if (explain) { showImage("seen", result.input_png); showImage("saliency", result.saliency_png); }
      document.body.dataset.predicted = result.class;
    } catch (err) { showError(String(err.message || err)); }
  }

  function predictCanvas() {
    if (!dirty) return;
    clearTimeout(pending);
    pending = setTimeout(() => canvas.toBlob((blob) => predictBlob(blob), "image/png"), 60);
  }

  function point(e) {
    const r = canvas.getBoundingClientRect();
    return { x: (e.clientX - r.left) * canvas.width / r.width, y: (e.clientY - r.top) * canvas.height / r.height };
  }
  canvas.addEventListener("pointerdown", (e) => { drawing = true; last = point(e); canvas.setPointerCapture(e.pointerId); stroke(e); });
  canvas.addEventListener("pointermove", (e) => { if (drawing) stroke(e); });
  const end = () => { if (drawing) { drawing = false; predictCanvas(); } };
  canvas.addEventListener("pointerup", end); canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("mouseup", end);
  function stroke(e) {
    const p = point(e);
    ctx.strokeStyle = ink; ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath(); ctx.moveTo(last.x, last.y); ctx.lineTo(p.x + 0.01, p.y); ctx.stroke();
    last = p; dirty = true;
  }

  function loadFile(file) {
    if (!file) return;
    const img = new Image();
    img.onload = () => {
      clearCanvas();
      const s = Math.min(canvas.width / img.width, canvas.height / img.height);
      ctx.drawImage(img, (canvas.width - img.width * s) / 2, (canvas.height - img.height * s) / 2, img.width * s, img.height * s);
      URL.revokeObjectURL(img.src);
    };
    img.src = URL.createObjectURL(file);
    predictBlob(file);  // the original file goes to the server, converted by the training pipeline
  }
  const zone = $("dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("over"); loadFile(e.dataTransfer.files[0]); });
  $("file").addEventListener("change", (e) => loadFile(e.target.files[0]));
  $("clear").addEventListener("click", () => {
    clearCanvas(); $("bars").innerHTML = ""; $("answer").textContent = "—"; $("answer").classList.add("muted");
    hideImage("seen"); hideImage("saliency"); showError("");
  });

  function renderFeatures(result) {
    // Signed bars from a centre line: red raised the class's probability, blue lowered it.
    const shown = result.features.slice(0, 12);
    const scale = Math.max(...shown.map((f) => Math.abs(f.attribution)), 1e-9);
    const pct = (p) => (100 * p).toFixed(1) + "%";
    const regress = meta.task === "regress", num = (v) => String(+v.toPrecision(4));
    if (regress) {
      $("method").textContent = `Each feature's share in moving ${result.explained_target} from ${num(result.baseline_value)} ` +
        `for the average training row to ${num(result.value)} for this row (integrated gradients; red raised it, blue lowered it).`;
    } else $("method").textContent = `Each feature's share in moving P(${result.explained_class}) from ${pct(result.baseline_probability)} ` +
      `for the average training row to ${pct(result.baseline_probability + result.features.reduce((s, f) => s + f.attribution, 0))} ` +
      "for this row (integrated gradients; red raised it, blue lowered it).";
    const box = $("features"); box.innerHTML = "";
    for (const f of shown) {
      const row = document.createElement("div"); row.className = "feature " + (f.attribution >= 0 ? "up" : "down");
      row.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
      const label = row.querySelector(".label");
      label.textContent = label.title = `${f.feature} = ${+f.value.toPrecision(4)}`;
      row.querySelector(".pct").textContent = (f.attribution >= 0 ? "+" : "") + (regress ? num(f.attribution) : (100 * f.attribution).toFixed(1));
      row.querySelector(".fill").style.width = (50 * Math.abs(f.attribution) / scale).toFixed(2) + "%";
      box.append(row);
    }
  }

  // A model trained on a CSV with text columns or empty cells (model.json's preprocessing.encoding)
  // takes rows as {column: value}: one field per training column, a list of the categories seen in
  // training for a text column, and an empty number field for a missing value (the server fills it
  // with the training median, as training did).
  const MISSING_CATEGORY = "(missing)";
  const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

  function buildFields(encoding) {
    const form = $("fields"); form.innerHTML = "";
    encoding.columns.forEach((c, i) => {
      const label = document.createElement("label"); label.htmlFor = "field-" + i;
      label.textContent = label.title = c.name;
      let input;
      if (c.kind === "categorical") {
        input = document.createElement("select");
        input.append(new Option(MISSING_CATEGORY, ""));
        for (const v of c.categories) if (v !== MISSING_CATEGORY) input.append(new Option(v, v));
      } else {
        input = document.createElement("input"); input.type = "text"; input.inputMode = "decimal"; input.autocomplete = "off";
        input.placeholder = `empty: median ${+c.median.toPrecision(4)}`;
      }
      input.id = "field-" + i; input.name = c.name;
      form.append(label, input);
    });
  }

  function readRecord(encoding) {
    // The fields as one {column: value} row; a number field holding anything but a number is a
    // one-line message naming its column, and nothing is sent.
    const record = {};
    let bad = null;
    encoding.columns.forEach((c, i) => {
      const input = $("field-" + i), text = input.value.trim();
      input.removeAttribute("aria-invalid");
      if (text === "") record[c.name] = null;
      else if (c.kind === "categorical") record[c.name] = text;
      else if (NUMBER.test(text) && Number.isFinite(Number(text))) record[c.name] = Number(text);
      else {
        input.setAttribute("aria-invalid", "true");
        bad = bad || { input, message: `${c.name}: '${text.length > 40 ? text.slice(0, 40) + "…" : text}' is not a number; ` +
                                         "enter a number such as 5.8, or leave it empty for a missing value" };
      }
    });
    if (bad) { bad.input.focus(); throw new Error(bad.message); }
    return record;
  }

  async function predictRow() {
    const encoding = meta && meta.preprocessing && meta.preprocessing.encoding;
    try {
      const inputs = encoding ? [readRecord(encoding)] : $("row").value.split(/[\s,;]+/).filter(Boolean).map(Number);
      const result = await post("/v1/explain", JSON.stringify({ inputs }), { "Content-Type": "application/json" });
      showError(""); renderBars(result); renderFeatures(result);
      document.body.dataset.predicted = meta.task === "regress" ? String(result.value) : result.class;
    } catch (err) { showError(String(err.message || err)); }
  }
  $("predict-row").addEventListener("click", predictRow);
  $("fields").addEventListener("submit", (e) => { e.preventDefault(); predictRow(); });
  $("fields").addEventListener("keydown", (e) => {  // Enter in any field predicts (a form of several fields does not submit on Enter)
    if (e.key === "Enter" && e.target.tagName === "INPUT") { e.preventDefault(); predictRow(); }
  });

  fetch("/metadata").then((r) => r.json()).then((m) => {
    meta = m;
    const acc = m.test_accuracy != null ? ` · test accuracy ${(100 * m.test_accuracy).toFixed(1)}%`
      : m.test_rmse != null ? ` · test RMSE ${+m.test_rmse.toPrecision(4)}` : "";
    const outputs = m.task === "regress" ? `predicts ${m.classes.join(", ")}` : `${m.classes.length} classes`;
    $("model-info").textContent = `run ${m.run} · ${m.model && m.model.name || "model"} · ${m.kind} ${m.input_shape.join("×")} · ` +
      `${outputs} · ${m.backend} · version ${m.model_version}${acc}`;
    if (m.kind !== "image") {
      $("image-input").hidden = true; $("tabular-input").hidden = false;
      $("image-explain").hidden = true; $("features").hidden = false;
      $("explain-card").querySelector("h2").textContent = "What moved the prediction";
      $("method").textContent = "Predict a row to see each feature's share.";
      const encoding = m.preprocessing.encoding;
      if (encoding) {
        buildFields(encoding);
        $("row").hidden = true; $("fields").hidden = false;
        $("row-hint").textContent = "This model takes one row of its training table: choose or type each column's value " +
          "(leave a number empty if it is missing).";
      } else $("row").placeholder = (m.preprocessing.feature_names || []).join(", ") || `${m.input_shape[0]} numbers`;
    } else if (m.preprocessing.background === "light") { ink = "#000"; paper = "#fff"; }
    clearCanvas();
    document.body.dataset.ready = "1";
  }).catch((err) => showError("cannot load /metadata: " + err));
})();
