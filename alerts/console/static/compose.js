/* Compose page: templates, live counters, drawing the area, and the live preview. */
"use strict";
(function () {
  const DRAWN = { color: "#a50016", weight: 3, fillColor: "#a50016", fillOpacity: 0.35 };
  const REFUSED = { color: "#000000", weight: 3, dashArray: "6 6", fillColor: "#ff2d2d", fillOpacity: 0.6 };
  const form = document.getElementById("compose");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const status = form.querySelector("input[name=status]").value;
  const templates = JSON.parse($("templates-data").textContent);
  const areaStatus = $("area-status"), reach = $("reach"), review = $("review");
  let map = null, shape = null, draft = [], draftLine = null, mode = null, centre = null, hasHome = false;
  const picked = new Map();
  let zoneIndex = [];

  /* ---- counters and phone mock-ups ---- */
  function mark(text, word) {  // word: the phone's data-mark, set by the server per language
    const upper = (text || "").toUpperCase();
    if (!word || !text || upper.startsWith(word) || upper.startsWith(status.toUpperCase())) return text;
    return (word + ": " + text).slice(0, 90);
  }
  function updateCounters() {
    form.querySelectorAll("textarea[data-max]").forEach((t) => {
      const max = +t.dataset.max, n = t.value.length, c = $("c-" + t.id);
      c.textContent = n + " / " + max + (n > max ? " — too long by " + (n - max) : "");
      c.classList.toggle("over", n > max);
      const phone = document.querySelector('[data-phone="' + t.dataset.lang + '"]');
      if (phone) {
        const part = t.dataset.part === "headline" ? ".phone-headline" : ".phone-body";
        phone.querySelector(part).textContent =
          t.dataset.part === "headline" ? mark(t.value, phone.dataset.mark) : t.value;
      }
    });
  }
  form.addEventListener("input", (e) => { if (e.target.matches("textarea[data-max]")) updateCounters(); });

  /* ---- templates ---- */
  function areaName() { return $("f-area-desc").value.trim(); }
  $("f-template").addEventListener("change", () => {
    const t = templates[$("f-template").value];
    if (!t) return;
    const area = areaName() || "{area}";
    $("f-event").value = t.event;
    for (const k of ["severity", "urgency", "certainty", "category", "response_type"]) $("f-" + k).value = t[k];
    $("f-expires").value = t.expires_hours;
    for (const [lang, w] of Object.entries(t.texts)) {
      $("h-" + lang).value = w.headline.replaceAll("{area}", area);
      $("i-" + lang).value = w.instruction.replaceAll("{area}", area);
    }
    updateCounters();
    refreshSoon();
  });
  $("f-area-desc").addEventListener("change", () => {
    const area = areaName();
    if (!area) return;
    form.querySelectorAll("textarea[data-max]").forEach((t) => { t.value = t.value.replaceAll("{area}", area); });
    updateCounters();
    refreshSoon();
  });

  /* ---- the area ---- */
  function say(text, bad) { areaStatus.textContent = text; areaStatus.classList.toggle("bad", !!bad); }
  function clearShape() {
    if (shape) { map.removeLayer(shape); shape = null; }
    if (draftLine) { map.removeLayer(draftLine); draftLine = null; }
    draft = []; centre = null;
  }
  function setMode(m) {
    mode = m;
    $("finish-polygon").disabled = m !== "polygon";
    $("draw-polygon").setAttribute("aria-pressed", m === "polygon");
    $("draw-circle").setAttribute("aria-pressed", m === "circle");
    map.getContainer().style.cursor = m ? "crosshair" : "";
  }
  function showPolygon(ring) {
    shape = L.polygon(ring.map(([x, y]) => [y, x]), DRAWN).addTo(map);
  }
  function finishPolygon() {
    if (draft.length < 3) { say("A polygon needs at least three corners.", true); return; }
    const ring = draft.map((p) => [+p.lng.toFixed(5), +p.lat.toFixed(5)]);
    ring.push(ring[0]);
    clearShape();
    $("f-polygon").value = JSON.stringify({ type: "Polygon", coordinates: [ring] });
    showPolygon(ring);
    setMode(null);
    refreshSoon();
  }
  function onMapClick(e) {
    if (mode === "polygon") {
      draft.push(e.latlng);
      if (draftLine) map.removeLayer(draftLine);
      draftLine = L.polyline(draft, { color: "#a50016", dashArray: "4 4" }).addTo(map);
      say(draft.length + " corner(s). Click more corners, then “Finish polygon”.");
    } else if (mode === "circle") {
      if (!centre) { centre = e.latlng; say("Centre set. Click again to set the radius."); return; }
      const km = centre.distanceTo(e.latlng) / 1000;
      $("f-clat").value = centre.lat.toFixed(5); $("f-clon").value = centre.lng.toFixed(5); $("f-ckm").value = km.toFixed(2);
      const c = centre;
      clearShape();
      shape = L.circle(c, { ...DRAWN, radius: km * 1000 }).addTo(map);
      setMode(null);
      refreshSoon();
    }
  }
  function drawFromFields() {
    clearShape();
    try {
      const g = JSON.parse($("f-polygon").value || "null");
      if (g) showPolygon((g.geometry || g).coordinates[0]);
    } catch (err) { say("The polygon text is not valid GeoJSON.", true); return; }
    const lat = parseFloat($("f-clat").value), lon = parseFloat($("f-clon").value), km = parseFloat($("f-ckm").value);
    if (!isNaN(lat) && !isNaN(lon) && km > 0) {
      const c = L.circle([lat, lon], { ...DRAWN, radius: km * 1000 }).addTo(map);
      if (!shape) shape = c;
    }
    // An Update/Cancel opens with the original's area: show it, not the whole jurisdiction.
    if (shape) map.fitBounds(shape.getBounds(), { padding: [24, 24], maxZoom: 15 });
    refreshSoon();
  }
  function fitPickedZones() {
    if (shape) return;
    const layers = zoneIndex.filter((z) => form.querySelector('input[name=zones][value="' + CSS.escape(z.key) + '"]'));
    if (layers.length) map.fitBounds(L.featureGroup(layers.map((z) => z.layer)).getBounds(), { padding: [24, 24], maxZoom: 15 });
  }

  /* ---- zones ---- */
  function pickZone(key, label, on) {
    const box = form.querySelector('input[name=zones][value="' + CSS.escape(key) + '"]');
    if (on && !box) {
      const l = document.createElement("label");
      l.className = "pick";
      l.innerHTML = '<input type="checkbox" name="zones" checked> ';
      l.firstChild.value = key;
      l.append(label);
      $("zone-picks").append(l);
    } else if (!on && box) box.parentElement.remove();
    const z = zoneIndex.find((x) => x.key === key);
    if (z) z.layer.setStyle(on ? { fillColor: "#a50016", fillOpacity: 0.35, color: "#a50016", weight: 2 } : { fillColor: "#9fb8d0", fillOpacity: 0.12, color: "#7890a8", weight: 1 });
    refreshSoon();
  }
  $("zone-picks").addEventListener("change", (e) => {
    if (e.target.name === "zones" && !e.target.checked) pickZone(e.target.value, "", false);
  });
  $("zone-search").addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault();
    const q = $("zone-search").value.trim().toLowerCase();
    const z = zoneIndex.find((x) => (x.key + " — " + x.name).toLowerCase() === q) ||
      zoneIndex.find((x) => x.key.toLowerCase().endsWith(":" + q) || String(x.name).toLowerCase() === q);
    if (z) { pickZone(z.key, z.set + " " + z.name, true); $("zone-search").value = ""; say("Picked zone " + z.name + "."); }
    else say("No zone matches “" + q + "”.", true);
  });

  /* ---- live preview ---- */
  let timer = null, seq = 0;
  function refreshSoon() { clearTimeout(timer); timer = setTimeout(refresh, 300); }
  function hasArea() {
    return $("f-polygon").value.trim() || $("f-ckm").value.trim() || form.querySelector("input[name=zones]:checked");
  }
  async function refresh() {
    const mine = ++seq;
    if (!hasArea()) { reach.textContent = "No area yet — nobody will be reached."; return; }
    const body = new FormData(form);
    const r = await fetch("/console/api/area-check", { method: "POST", body, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    if (mine !== seq) return;
    const data = await r.json();
    if (!r.ok) {
      say("Refused: " + data.detail, true);
      reach.textContent = "Refused — " + data.detail;
      map.getContainer().classList.add("refused");
      if (shape && shape.setStyle) shape.setStyle(REFUSED);
      review.disabled = true;
      return;
    }
    map.getContainer().classList.remove("refused");
    if (shape && shape.setStyle) shape.setStyle({ ...DRAWN, dashArray: null });
    review.disabled = false;
    say(hasHome ? "Area inside your jurisdiction." : "Area accepted. Your agency has no jurisdiction set, so no area is refused: check it is the right place.");
    if (data.count === null) reach.textContent = "Recipient count unavailable (targeting not installed).";
    else {
      const langs = Object.entries(data.by_language || {}).map(([k, v]) => k + " " + v.toLocaleString()).join(" · ");
      reach.textContent = (status === "Actual" ? "Will reach " : "Test audience in area: ") + data.count.toLocaleString() +
        (data.count === 1 ? " person" : " people") + (langs ? " — " + langs : "") +
        (data.warnings && data.warnings.length ? " ⚠ " + data.warnings.join("; ") : "");
      const zones = Object.entries(data.by_zone || {}).map(([set, z]) => [set, Object.entries(z).filter(([, n]) => n > 0)])
        .filter(([, z]) => z.length).map(([set, z]) => set + " " + z.map(([id, n]) => id + " (" + n + ")").join(", "));
      if (zones.length) reach.textContent += " · zones reached: " + zones.join("; ");
    }
    const img = await fetch("/console/api/preview-map", { method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
    if (mine !== seq || !img.ok) return;
    const url = URL.createObjectURL(await img.blob());
    $("preview-map").src = url; $("preview-map").hidden = false;
    $("preview-map-caption").textContent = "Map image exactly as it will be sent (" + status.toUpperCase() + ").";
    document.querySelectorAll(".phone-map").forEach((p) => { p.src = url; p.hidden = false; });
  }
  ["f-event", "f-severity", "h-en-US"].forEach((id) => $(id) && $(id).addEventListener("change", refreshSoon));

  form.addEventListener("submit", (e) => {
    if (!hasArea()) { e.preventDefault(); say("No area: draw a polygon or circle, or pick a zone — no area, no send.", true); $("map").focus(); }
  });

  /* ---- start ---- */
  updateCounters();
  AC.makeMap($("map")).then(async (m) => {
    map = m.map;
    hasHome = !!m.homeLayer;
    AC.current = map;  // for keyboard-less tests and the browser console
    map.on("click", onMapClick);
    $("draw-polygon").addEventListener("click", () => { clearShape(); $("f-polygon").value = ""; setMode("polygon"); say("Click the map to add corners, then “Finish polygon”."); });
    $("finish-polygon").addEventListener("click", finishPolygon);
    $("draw-circle").addEventListener("click", () => { clearShape(); ["f-clat", "f-clon", "f-ckm"].forEach((i) => ($(i).value = "")); setMode("circle"); say("Click the centre of the circle."); });
    $("clear-area").addEventListener("click", () => {
      clearShape(); setMode(null);
      ["f-polygon", "f-clat", "f-clon", "f-ckm"].forEach((i) => ($(i).value = ""));
      form.querySelectorAll("input[name=zones]").forEach((b) => pickZone(b.value, "", false));
      say("Area cleared."); refreshSoon();
    });
    $("apply-coords").addEventListener("click", drawFromFields);
    if (hasArea()) drawFromFields();
    zoneIndex = await AC.loadZones(map, (f, layer, e) => {
      if (mode) return;
      L.DomEvent.stopPropagation(e);
      const on = !form.querySelector('input[name=zones][value="' + CSS.escape(f.id) + '"]');
      pickZone(f.id, f.properties.set + " " + f.properties.name, on);
    });
    const list = $("zone-list");
    zoneIndex.filter((z) => !z.set.startsWith("us_")).forEach((z) => {
      const o = document.createElement("option"); o.value = z.key + " — " + z.name; list.append(o);
    });
    form.querySelectorAll("input[name=zones]").forEach((b) => pickZone(b.value, b.value, true));
    fitPickedZones();
    if (!hasHome && !shape && !form.querySelector("input[name=zones]")) AC.fitZones(map, zoneIndex);
    document.body.dataset.mapReady = "1";
  });
})();
