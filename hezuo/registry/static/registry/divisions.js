// Chained division selects: district -> town -> village, loaded from /api/divisions/.
(function () {
  "use strict";
  var district = document.querySelector("select[data-division-level=district]");
  var town = document.querySelector("select[data-division-level=town]");
  var village = document.querySelector("select[data-division-level=village]");
  if (!district || !town) { return; }
  function fill(select, parentId, level, keep) {
    var current = keep ? select.value : "";
    select.innerHTML = '<option value="">---------</option>';
    if (!parentId) { return Promise.resolve(); }
    var url = "/api/divisions/?level=" + level + "&parent=" + encodeURIComponent(parentId) + "&page_size=1000";
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        (data.results || data).forEach(function (d) {
          var o = document.createElement("option");
          o.value = d.id; o.textContent = d.name;
          if (String(d.id) === current) { o.selected = true; }
          select.appendChild(o);
        });
      });
  }
  district.addEventListener("change", function () {
    fill(town, district.value, "town", false).then(function () { if (village) { fill(village, "", "village", false); } });
  });
  town.addEventListener("change", function () { if (village) { fill(village, town.value, "village", false); } });
})();
