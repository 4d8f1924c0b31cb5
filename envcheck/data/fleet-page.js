// The fleet page's filters (inlined by envcheck/fleet/html.py). The state lives in the URL's fragment, so a
// filtered view is a link: "#outcome=failed,unjudged&group=lab-a". A fragment without "=" is an anchor (a host's
// details) and leaves the filters as they are. Works from file:// with no network.
(function () {
  "use strict";
  var ALIASES = { fail: "failed" };
  var outcomeBoxes = Array.prototype.slice.call(document.querySelectorAll("input[name=outcome]"));
  var groupSelect = document.getElementById("group-filter");
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-outcome]"));

  function readHash() {
    var hash = window.location.hash.replace(/^#/, "");
    if (hash.indexOf("=") < 0) { return null; }
    var state = { outcomes: null, group: "" };
    hash.split("&").forEach(function (part) {
      var pair = part.split("=");
      var key = decodeURIComponent(pair[0] || "");
      var value = decodeURIComponent(pair.slice(1).join("=") || "");
      if (key === "outcome") {
        state.outcomes = value.split(",").filter(Boolean).map(function (o) { return ALIASES[o] || o; });
      } else if (key === "group") {
        state.group = value;
      }
    });
    return state;
  }

  function apply() {
    var wanted = outcomeBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var group = groupSelect ? groupSelect.value : "";
    var shown = 0;
    rows.forEach(function (row) {
      var groups = JSON.parse(row.getAttribute("data-groups") || "[]");
      var visible = wanted.indexOf(row.getAttribute("data-outcome")) >= 0 && (!group || groups.indexOf(group) >= 0);
      row.hidden = !visible;
      if (visible && row.tagName === "TR") { shown += 1; }
    });
    var counter = document.getElementById("shown");
    if (counter) { counter.textContent = String(shown); }
    document.body.setAttribute("data-filter", "outcome=" + wanted.join(",") + "&group=" + group);
  }

  function load() {
    var state = readHash();
    if (state === null) { apply(); return; }
    outcomeBoxes.forEach(function (b) {
      b.checked = state.outcomes === null || state.outcomes.indexOf(b.value) >= 0;
    });
    if (groupSelect) { groupSelect.value = state.group; if (groupSelect.value !== state.group) { groupSelect.value = ""; } }
    apply();
  }

  function save() {
    var wanted = outcomeBoxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    var hash = "#outcome=" + wanted.map(encodeURIComponent).join(",");
    if (groupSelect && groupSelect.value) { hash += "&group=" + encodeURIComponent(groupSelect.value); }
    try {
      window.history.replaceState(null, "", hash);  // no new history entry per click
    } catch (e) {
      window.location.hash = hash;  // a browser that refuses replaceState on file:// URLs
    }
    apply();
  }

  outcomeBoxes.forEach(function (b) { b.addEventListener("change", save); });
  if (groupSelect) { groupSelect.addEventListener("change", save); }
  window.addEventListener("hashchange", load);
  load();
}());
