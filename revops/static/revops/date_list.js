/* Date lists (revops/admin/schedule_widgets.py): "Add a date" appends an empty picker, "Remove" drops
   a row. Without this script the stored dates and two empty pickers are shown; clear one to remove it. */
(function () {
  "use strict";

  function wire(item) {
    const remove = item.querySelector(".rv-dates-remove");
    remove.hidden = false;
    remove.addEventListener("click", function () {
      item.remove();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("div.rv-dates").forEach(function (box) {
      const list = box.querySelector(".rv-dates-list");
      const add = box.querySelector(".rv-dates-add");
      list.querySelectorAll("li").forEach(wire);
      add.hidden = false;
      add.addEventListener("click", function () {
        const item = document.createElement("li");
        const input = document.createElement("input");
        input.type = "date";
        input.name = box.dataset.name;
        input.setAttribute("aria-label", "Date " + (list.children.length + 1));
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "rv-dates-remove";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove this date");
        item.append(input, " ", remove);
        list.appendChild(item);
        wire(item);
        input.focus();
      });
    });
  });
})();
