/* Offline basemap for the console: the agency's jurisdiction and the shipped zones, no tiles. */
"use strict";
window.AC = window.AC || {};

AC.makeMap = async function (el) {
  const map = L.map(el, { attributionControl: false, keyboard: true, zoomSnap: 0.25 }).setView([39.5, -98.35], 4);
  const resp = await fetch("/console/api/jurisdiction", { credentials: "same-origin" });
  const home = await resp.json();
  let homeLayer = null;
  if (home.geometry) {
    homeLayer = L.geoJSON(home, {
      interactive: false,
      style: { color: "#202124", weight: 3, fillColor: "#ffffff", fillOpacity: 0.95 },
    }).addTo(map);
    map.fitBounds(homeLayer.getBounds(), { padding: [24, 24] });
  }
  return { map, homeLayer, home };
};

AC.loadZones = async function (map, onPick) {
  const out = [];
  const resp = await fetch("/console/api/zones", { credentials: "same-origin" });
  if (!resp.ok) return out;
  const sets = (await resp.json()).sets || [];
  for (const s of sets) {
    if (s.name === "us_states" || s.name === "us_counties") continue;
    const background = s.name.startsWith("us_");
    const r = await fetch("/console/api/zones/" + encodeURIComponent(s.name), { credentials: "same-origin" });
    if (!r.ok) continue;
    const fc = await r.json();
    const layer = L.geoJSON(fc, {
      interactive: !background,
      style: background
        ? { color: "#8a8a8a", weight: 1, fill: false }
        : { color: "#7890a8", weight: 1, fillColor: "#9fb8d0", fillOpacity: 0.12 },
      onEachFeature: (f, l) => {
        out.push({ key: f.id, name: f.properties.name, set: s.name, layer: l });
        if (!background) {
          l.bindTooltip(s.name + " · " + f.properties.name, { sticky: true });
          l.on("click", (e) => onPick(f, l, e));
        }
      },
    }).addTo(map);
    if (background) layer.bringToBack();
  }
  return out;
};

/* No jurisdiction set for the agency: open on its local zones rather than the whole country. */
AC.fitZones = function (map, zoneIndex) {
  const local = zoneIndex.filter((z) => !z.set.startsWith("us_")).map((z) => z.layer);
  if (local.length) map.fitBounds(L.featureGroup(local).getBounds(), { padding: [24, 24] });
};
