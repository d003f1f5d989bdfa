// Progressive enhancement of the tip form: the municipality list shows only the kommuner of
// the chosen län. Without JavaScript every kommun is listed and the server checks the pair.
(function () {
  "use strict";
  var region = document.getElementById("region_code");
  var municipality = document.getElementById("municipality_code");
  if (!region || !municipality) { return; }
  var groups = Array.prototype.slice.call(municipality.querySelectorAll("optgroup"));
  var original = groups.map(function (group) { return group; });

  function filter() {
    var chosen = region.value;
    var selected = municipality.value;
    original.forEach(function (group) {
      var matches = !chosen || group.getAttribute("data-region") === chosen;
      if (matches && !group.parentNode) {
        municipality.appendChild(group);
      } else if (!matches && group.parentNode) {
        group.parentNode.removeChild(group);
      }
    });
    // Keep a choice only if it still lies in the chosen län.
    var stillThere = Array.prototype.some.call(municipality.options, function (option) {
      return option.value === selected;
    });
    municipality.value = stillThere ? selected : "";
  }

  region.addEventListener("change", filter);
  filter();

  // Move focus to the error summary so screen readers announce it.
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
})();
