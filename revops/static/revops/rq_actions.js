// django-rq's job lists have no "n of m selected" counter, which Django 5's actions.js reads as soon as a
// page lists at least one job ("Cannot read properties of null"). Add it before actions.js starts.
document.addEventListener("DOMContentLoaded", function () {
  const actions = document.querySelector("#changelist-form div.actions");
  if (!actions || actions.querySelector("span.action-counter")) return;
  const counter = document.createElement("span");
  counter.className = "action-counter";
  counter.dataset.actionsIcnt = String(document.querySelectorAll("tr input.action-select").length);
  actions.appendChild(counter);
});
