/* The checklist admin's row editors (templates/admin/handoffs/checklist/rows.html): "Add" clones the
   formset's empty row, "Remove" greys a row out (the server drops it on save), and the field lists
   show only the fields of the checklist's kind (deal fields, or account fields for renewals).
   Without this script the form still works: one blank row per list and a Remove box per row. */
(function () {
  "use strict";

  function kindObjects(editor) {
    const map = {};
    (editor.dataset.kindObjects || "").split(" ").forEach(function (pair) {
      const parts = pair.split(":");
      if (parts.length === 2) map[parts[0]] = parts[1];
    });
    return map;
  }

  function filterFields(root, objectType) {
    root.querySelectorAll("select").forEach(function (select) {
      let any = false;
      select.querySelectorAll("option[data-object]").forEach(function (option) {
        option.hidden = option.dataset.object !== objectType;
        option.disabled = option.hidden;
        if (option.hidden && option.selected) select.value = "";
        any = true;
      });
      if (!any) return;
      select.querySelectorAll("optgroup").forEach(function (group) {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
    });
  }

  function currentObject(editor) {
    const kind = document.getElementById("id_kind");
    return kind ? kindObjects(editor)[kind.value] : null;
  }

  function markRemoved(row, checkbox) {
    row.classList.toggle("rv-row-removed", checkbox.checked);
  }

  function wire(row) {
    const checkbox = row.querySelector("input.rv-row-remove");
    if (!checkbox) return;
    markRemoved(row, checkbox);
    checkbox.addEventListener("change", function () {
      markRemoved(row, checkbox);
    });
  }

  function setUp(editor) {
    const prefix = editor.dataset.prefix;
    const total = editor.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    const template = editor.querySelector("template.rv-rows-empty");
    const table = editor.querySelector("table.rv-rows-table");
    const add = editor.querySelector("button.rv-rows-add");
    table.querySelectorAll("tbody.rv-row").forEach(wire);
    if (total && template && add) {
      add.hidden = false;
      add.addEventListener("click", function () {
        const index = parseInt(total.value, 10) || 0;
        const html = template.innerHTML.replace(/__prefix__/g, String(index));
        const holder = document.createElement("table");
        holder.innerHTML = html;
        const row = holder.querySelector("tbody");
        table.appendChild(row);
        total.value = String(index + 1);
        const objectType = currentObject(editor);
        if (objectType) filterFields(row, objectType);
        wire(row);
        const first = row.querySelector("select, input:not([type=checkbox])");
        if (first) first.focus();
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    const editors = document.querySelectorAll("div.rv-rows");
    editors.forEach(setUp);
    const kind = document.getElementById("id_kind");
    function refresh() {
      editors.forEach(function (editor) {
        const objectType = currentObject(editor);
        if (objectType) filterFields(editor.querySelector("table.rv-rows-table"), objectType);
      });
    }
    if (kind) kind.addEventListener("change", refresh);
    refresh();
  });
})();
