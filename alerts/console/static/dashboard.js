/* Live delivery dashboard: server-sent summaries drawn as a funnel, a line over time, languages. */
"use strict";
(function () {
  const box = document.getElementById("dashboard");
  if (!box || !window.EventSource) return;
  const STATES = ["queued", "claimed", "submitting", "submitted", "delivered", "failed", "expired", "cancelled"];
  const PENDING = ["queued", "claimed", "submitting", "submitted"];
  const history = [];
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  function bar(label, n, top, cls) {
    const pct = top ? (100 * n / top).toFixed(1) : 0;
    return "<span>" + esc(label) + '</span><span><span class="bar ' + cls + '" style="display:block;width:' + pct + '%"></span></span><span>' + n.toLocaleString() + "</span>";
  }
  function line() {
    if (history.length < 2) return "";
    const w = 300, h = 60, t0 = history[0][0], t1 = history[history.length - 1][0] || 1;
    const pts = history.map(([t, p]) => ((t - t0) / Math.max(1, t1 - t0) * w).toFixed(1) + "," + (h - p * h).toFixed(1)).join(" ");
    return '<svg width="' + w + '" height="' + h + '" role="img" aria-label="Delivered share over time"><polyline fill="none" stroke="#1b5e20" stroke-width="2" points="' + pts + '"/></svg>';
  }
  function draw(s) {
    const by = s.by_state || {}, targeted = s.targeted || 0;
    const delivered = by.delivered || 0;
    const pending = PENDING.reduce((a, k) => a + (by[k] || 0), 0);
    history.push([Date.now(), targeted ? delivered / targeted : 0]);
    let html = '<p class="say"><strong>' + (targeted ? Math.round(100 * delivered / targeted) : 0) + "% delivered</strong> · " +
      delivered.toLocaleString() + " of " + targeted.toLocaleString() + " · pending " + pending.toLocaleString() +
      (s.plan_state ? " · plan " + esc(s.plan_state) : "") + "</p>";
    if (s.blocked_reason) html += '<p class="error">Blocked: ' + esc(s.blocked_reason) + "</p>";
    html += '<div class="funnel">' + bar("targeted", targeted, targeted, "");
    for (const k of STATES) if (by[k]) html += bar(k, by[k], targeted, k);
    html += "</div>" + line();
    const langs = Object.entries(s.by_language || {});
    if (langs.length) html += "<p><strong>Per language:</strong> " + langs.map(([k, v]) => esc(k) + " " + v.toLocaleString()).join(" · ") + "</p>";
    const fails = Object.entries(s.failures_by_reason || {});
    if (fails.length) html += "<p><strong>Failed by reason:</strong> " + fails.map(([k, v]) => esc(k) + " " + v).join(" · ") + "</p>";
    box.innerHTML = html;
    box.dataset.delivered = delivered; box.dataset.targeted = targeted; box.dataset.pending = pending;
  }
  const src = new EventSource(box.dataset.events);
  src.addEventListener("summary", (e) => { try { draw(JSON.parse(e.data)); } catch (err) { box.textContent = "Unreadable update."; } });
  src.addEventListener("end", () => { box.dataset.done = "1"; src.close(); });
  src.addEventListener("unavailable", () => { box.textContent = "Delivery tracking is not available on this server."; src.close(); });
})();
