// Filter the participant checkboxes by name as the secretary types.
(function () {
  var box = document.querySelector(".participant-filter");
  if (!box) return;
  box.hidden = false;
  box.addEventListener("input", function () {
    var term = box.value.trim();
    document.querySelectorAll(".participant").forEach(function (label) {
      var name = label.getAttribute("data-name") || "";
      label.hidden = term !== "" && name.indexOf(term) === -1;
    });
  });
})();
