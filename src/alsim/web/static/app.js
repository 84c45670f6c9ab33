// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  function syncGastrostomy() {
    var box = document.getElementById("gastrostomy");
    if (!box) { return; }
    var on = box.checked;
    var a = document.getElementById("item5a");
    var b = document.getElementById("item5b");
    if (a) { a.hidden = on; }
    if (b) { b.hidden = !on; }
  }
  function liveTotal() {
    var form = document.getElementById("visit-form");
    var out = document.getElementById("live-total");
    if (!form || !out) { return; }
    var gastro = document.getElementById("gastrostomy");
    var names = ["q1", "q2", "q3", "q4", gastro && gastro.checked ? "q5b" : "q5a",
                 "q6", "q7", "q8", "q9", "q10", "q11", "q12"];
    var total = 0, n = 0;
    names.forEach(function (name) {
      var el = form.querySelector("input[name='" + name + "']:checked");
      if (el) { total += parseInt(el.value, 10); n += 1; }
    });
    out.textContent = n === 12 ? String(total) : total + " (" + n + "/12)";
  }
  document.addEventListener("change", function () { syncGastrostomy(); liveTotal(); });
  document.addEventListener("DOMContentLoaded", function () {
    syncGastrostomy(); liveTotal();
    var p = document.getElementById("print-button");
    if (p) { p.addEventListener("click", function () { window.print(); }); }
  });
})();
