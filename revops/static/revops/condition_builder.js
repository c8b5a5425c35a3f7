/* The condition builder (revops/admin/condition_widget.py): edits a condition tree of the condition
   language (docs/automations.md) as groups of comparisons and writes it, as JSON, into the form's
   textarea on every change; the "JSON" toggle shows that textarea for power users. A tree the builder
   cannot show opens in JSON with a note saying why. Without this script the textarea works alone. */
(function () {
  "use strict";

  function Unshowable(message) {
    this.message = message;
  }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      if (key === "class") node.className = props[key];
      else if (key === "text") node.textContent = props[key];
      else if (key in node && typeof props[key] !== "string") node[key] = props[key];
      else node.setAttribute(key, props[key]);
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }

  function option(value, label, selected) {
    const node = el("option", { value: value, text: label });
    node.selected = !!selected;
    return node;
  }

  function sortedJSON(value) {
    // The textarea's JSON as the server shows it (sorted keys, two-space indent).
    function sort(v) {
      if (Array.isArray(v)) return v.map(sort);
      if (v && typeof v === "object") {
        const out = {};
        Object.keys(v)
          .sort()
          .forEach(function (k) {
            out[k] = sort(v[k]);
          });
        return out;
      }
      return v;
    }
    return JSON.stringify(sort(value), null, 2);
  }

  function isPlainObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  function isScalar(v) {
    return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
  }

  function Builder(root) {
    this.root = root;
    // Inside the root, so a row that Django's inlines.js cloned (ids renumbered) finds its own.
    this.schema = JSON.parse(root.querySelector('script[type="application/json"]').textContent);
    this.textarea = root.querySelector(".rv-cb-json textarea") || document.getElementById(root.dataset.textarea);
    this.area = root.querySelector(".rv-cb-builder");
    this.jsonBox = root.querySelector(".rv-cb-json");
    this.note = root.querySelector(".rv-cb-note");
    this.modes = root.querySelector(".rv-cb-modes");
    this.typeInput = root.dataset.objectTypeInput ? document.getElementById(root.dataset.objectTypeInput) : null;
    this.wrapped = false;
    this.counter = 0;
  }

  Builder.prototype.objectType = function () {
    const chosen = this.typeInput && this.typeInput.value;
    return chosen && this.schema.objects[chosen] ? chosen : this.root.dataset.objectType;
  };

  Builder.prototype.fields = function () {
    const entries = (this.schema.objects[this.objectType()] || []).slice();
    const byPath = {};
    entries.forEach(function (f) {
      byPath[f.path] = f;
    });
    return { list: entries, byPath: byPath };
  };

  Builder.prototype.kindOf = function (op) {
    if (this.schema.no_value.indexOf(op) >= 0) return "none";
    if (this.schema.days.indexOf(op) >= 0) return "days";
    if (this.schema.lists.indexOf(op) >= 0) return "list";
    if (op === "between") return "between";
    return "scalar";
  };

  // --- tree → builder ------------------------------------------------------------------------

  Builder.prototype.load = function (tree) {
    this.fieldMap = this.fields();
    this.wrapped = false;
    let top = tree;
    if (!(isPlainObject(tree) && Object.keys(tree).length === 1 && Array.isArray(tree.all || tree.any))) {
      top = { all: [tree] };
      this.wrapped = true;
    }
    const group = this.node(top, false, true);
    this.area.replaceChildren(group);
  };

  Builder.prototype.node = function (data, negated, isRoot) {
    if (!isPlainObject(data)) throw new Unshowable("a part of it is not a condition object");
    const keys = Object.keys(data);
    if (keys.length === 1 && keys[0] === "not") {
      if (negated) throw new Unshowable("it has a 'not' directly inside a 'not'");
      return this.node(data.not, true, isRoot);
    }
    if (keys.length === 1 && (keys[0] === "all" || keys[0] === "any")) {
      if (!Array.isArray(data[keys[0]])) throw new Unshowable("a group's conditions are not a list");
      return this.group(keys[0], negated, isRoot, data[keys[0]]);
    }
    const extra = keys.filter(function (k) {
      return ["field", "op", "value"].indexOf(k) < 0;
    });
    if (extra.length || !("field" in data) || !("op" in data)) {
      throw new Unshowable("a part of it is neither a group nor a comparison");
    }
    return this.leaf(data, negated);
  };

  Builder.prototype.group = function (kind, negated, isRoot, children) {
    const self = this;
    const box = el("div", { class: "rv-cb-group" + (isRoot ? " rv-cb-root" : "") });
    const kindSelect = el("select", { class: "rv-cb-kind", "aria-label": "Which conditions must hold" }, [
      option("all", "All of these hold", kind === "all"),
      option("any", "Any of these holds", kind === "any"),
    ]);
    const head = el("div", { class: "rv-cb-head" }, [
      this.notBox(negated, isRoot ? "Reverse the whole condition" : "Reverse this group"),
      kindSelect,
      isRoot ? null : this.removeButton(box, "Remove this group"),
    ]);
    const list = el("div", { class: "rv-cb-children" });
    children.forEach(function (child) {
      list.appendChild(self.node(child, false, false));
    });
    const addLeaf = el("button", { type: "button", class: "rv-cb-add-condition", text: "+ Condition" });
    const addGroup = el("button", { type: "button", class: "rv-cb-add-group", text: "+ Group" });
    addLeaf.addEventListener("click", function () {
      const first = self.fieldMap.list[0];
      const leaf = self.leaf({ field: first ? first.path : "", op: first ? first.ops[0][0] : "eq" }, false, true);
      list.appendChild(leaf);
      self.changed();
      leaf.querySelector("select").focus();
    });
    addGroup.addEventListener("click", function () {
      const group = self.group("any", false, false, []);
      list.appendChild(group);
      self.changed();
      group.querySelector("select").focus();
    });
    const empty = el("p", {
      class: "rv-cb-empty rv-muted",
      text: isRoot ? "No conditions: every record matches." : "An empty group.",
    });
    box.append(head, list, empty, el("div", { class: "rv-cb-actions" }, [addLeaf, addGroup]));
    return box;
  };

  Builder.prototype.notBox = function (negated, label) {
    const id = "rv-cb-" + ++this.counter;
    const box = el("input", { type: "checkbox", class: "rv-cb-not", id: id });
    box.checked = !!negated;
    return el("span", { class: "rv-cb-not-wrap", title: label }, [
      box,
      el("label", { for: id, text: "not", "aria-label": label }),
    ]);
  };

  Builder.prototype.removeButton = function (target, label) {
    const self = this;
    const button = el("button", { type: "button", class: "rv-cb-remove", text: "Remove", "aria-label": label });
    button.addEventListener("click", function () {
      target.remove();
      self.changed();
    });
    return button;
  };

  Builder.prototype.leaf = function (data, negated, fresh) {
    const self = this;
    const field = this.fieldMap.byPath[data.field];
    if (!field) {
      const type = this.objectType();
      const own = typeof data.field === "string" && data.field.indexOf(type + ".") === 0;
      throw new Unshowable(
        own
          ? data.field + " is not in the data dictionary"
          : "it reads " + String(data.field) + ", but these conditions are about a " + type
      );
    }
    const ops = field.ops.map(function (pair) {
      return pair[0];
    });
    if (ops.indexOf(data.op) < 0) throw new Unshowable("'" + data.op + "' cannot be used with " + field.label);
    const kind = this.kindOf(data.op);
    if (!fresh) this.checkValue(field, kind, data);
    const row = el("div", { class: "rv-cb-leaf" });
    const fieldSelect = el("select", { class: "rv-cb-field", "aria-label": "Field" });
    let groupNode = null;
    this.fieldMap.list.forEach(function (f) {
      if (!groupNode || groupNode.label !== f.group) {
        groupNode = el("optgroup", { label: f.group });
        fieldSelect.appendChild(groupNode);
      }
      groupNode.appendChild(option(f.path, f.label, f.path === field.path));
    });
    const opSelect = el("select", { class: "rv-cb-op", "aria-label": "Comparison" });
    const values = el("span", { class: "rv-cb-values" });
    row.append(this.notBox(negated, "Reverse this condition"), fieldSelect, opSelect, values, this.removeButton(row, "Remove this condition"));
    this.fillOps(opSelect, field, data.op);
    this.fillValues(values, field, data.op, fresh ? undefined : data.value);
    fieldSelect.addEventListener("change", function () {
      const next = self.fieldMap.byPath[fieldSelect.value];
      const keep = next.ops.some(function (pair) {
        return pair[0] === opSelect.value;
      });
      const op = keep ? opSelect.value : next.ops[0][0];
      self.fillOps(opSelect, next, op);
      self.fillValues(values, next, op, undefined);
      self.changed();
    });
    opSelect.addEventListener("change", function () {
      const current = self.fieldMap.byPath[fieldSelect.value];
      const before = values.dataset.kind;
      const kept = before === self.kindOf(opSelect.value) ? self.readValues(values) : undefined;
      self.fillValues(values, current, opSelect.value, kept);
      self.changed();
    });
    return row;
  };

  Builder.prototype.checkValue = function (field, kind, data) {
    const value = data.value;
    const where = " for " + field.label;
    if (kind === "none") {
      if (value !== undefined && value !== null) throw new Unshowable("'" + data.op + "' takes no value" + where);
      return;
    }
    if (kind === "days") {
      if (!Number.isInteger(value)) throw new Unshowable("the number of days is not a whole number" + where);
      return;
    }
    const self = this;
    const items = kind === "list" || kind === "between" ? value : [value];
    if (!Array.isArray(items) || (kind === "between" && items.length !== 2)) {
      throw new Unshowable("the value" + where + " is not the list this comparison takes");
    }
    items.forEach(function (item) {
      if (!self.scalarShowable(field, item)) throw new Unshowable(JSON.stringify(item) + " cannot be shown" + where);
    });
  };

  Builder.prototype.scalarShowable = function (field, item) {
    if (!isScalar(item)) return false;
    if (field.type === "boolean") return typeof item === "boolean";
    if (field.type === "date") return typeof item === "string" && /^\d{4}-\d{2}-\d{2}$/.test(item);
    return typeof item !== "boolean";
  };

  Builder.prototype.fillOps = function (select, field, op) {
    select.replaceChildren();
    field.ops.forEach(function (pair) {
      select.appendChild(option(pair[0], pair[1], pair[0] === op));
    });
  };

  Builder.prototype.scalarInput = function (field, value, label) {
    const text = value === undefined || value === null ? "" : String(value);
    if (field.type === "boolean") {
      return el("select", { class: "rv-cb-value", "aria-label": label }, [
        option("", "— choose —", value === undefined),
        option("true", "yes", value === true),
        option("false", "no", value === false),
      ]);
    }
    if (field.choices.length) {
      const select = el("select", { class: "rv-cb-value", "aria-label": label }, [option("", "— choose —", text === "")]);
      field.choices.forEach(function (choice) {
        select.appendChild(option(choice, choice, choice === text));
      });
      if (text && field.choices.indexOf(text) < 0) select.appendChild(option(text, text + " (not an allowed value)", true));
      return select;
    }
    const attrs = { class: "rv-cb-value", type: "text", "aria-label": label };
    if (field.type === "date") attrs.type = "date";
    if (field.type === "integer") attrs.inputmode = "numeric";
    if (field.type === "decimal") attrs.inputmode = "decimal";
    if (field.type === "datetime") attrs.placeholder = "2026-01-31T09:00:00Z";
    if (field.type === "reference") attrs.placeholder = "CRM id";
    const input = el("input", attrs);
    input.value = text;
    return input;
  };

  Builder.prototype.fillValues = function (box, field, op, value) {
    const kind = this.kindOf(op);
    box.dataset.kind = kind;
    box.dataset.type = field.type;
    box.replaceChildren();
    if (kind === "none") return;
    if (kind === "days") {
      const input = el("input", { class: "rv-cb-value rv-cb-days", type: "text", inputmode: "numeric", "aria-label": "Number of days" });
      input.value = value === undefined ? "" : String(value);
      box.append(input, el("span", { class: "rv-muted", text: " days" }));
      return;
    }
    if (kind === "between") {
      const pair = Array.isArray(value) ? value : [];
      box.append(this.scalarInput(field, pair[0], "Lowest"), el("span", { text: " and " }), this.scalarInput(field, pair[1], "Highest"));
      return;
    }
    if (kind === "list") {
      const items = Array.isArray(value) ? value.map(String) : [];
      if (field.choices.length) {
        const select = el("select", { class: "rv-cb-value rv-cb-list", multiple: true, "aria-label": "Values" });
        select.dataset.order = JSON.stringify(items); // the stored order is kept; new picks follow
        select.size = Math.min(6, field.choices.length + 1);
        const known = field.choices.concat(
          items.filter(function (item) {
            return field.choices.indexOf(item) < 0;
          })
        );
        known.forEach(function (choice) {
          const label = field.choices.indexOf(choice) < 0 ? choice + " (not an allowed value)" : choice;
          select.appendChild(option(choice, label, items.indexOf(choice) >= 0));
        });
        box.append(select);
      } else {
        const area = el("textarea", { class: "rv-cb-value rv-cb-list", rows: 3, "aria-label": "Values, one per line", placeholder: "one value per line" });
        area.value = items.join("\n");
        box.append(area);
      }
      return;
    }
    box.append(this.scalarInput(field, value, "Value"));
  };

  // --- builder → tree ------------------------------------------------------------------------

  function typed(type, text) {
    if (type === "boolean") return text === "true" ? true : text === "false" ? false : text;
    if (type === "integer" && /^-?\d{1,15}$/.test(text.trim())) return parseInt(text, 10);
    return text;
  }

  Builder.prototype.readValues = function (box) {
    const kind = box.dataset.kind;
    const type = box.dataset.type;
    const inputs = Array.prototype.slice.call(box.querySelectorAll(".rv-cb-value"));
    if (kind === "none") return undefined;
    if (kind === "days") {
      const text = inputs[0].value.trim();
      return /^\d{1,9}$/.test(text) ? parseInt(text, 10) : text;
    }
    if (kind === "between") return inputs.map(function (i) {
      return typed(type, i.value);
    });
    if (kind === "list") {
      const input = inputs[0];
      let items;
      if (input.tagName === "SELECT") {
        const order = JSON.parse(input.dataset.order || "[]");
        const rank = function (value, index) {
          const stored = order.indexOf(value);
          return stored >= 0 ? stored : order.length + index;
        };
        items = Array.prototype.filter
          .call(input.options, function (o) {
            return o.selected;
          })
          .map(function (o) {
            return { value: o.value, rank: rank(o.value, o.index) };
          })
          .sort(function (a, b) {
            return a.rank - b.rank;
          })
          .map(function (item) {
            return item.value;
          });
      } else {
        items = input.value
          .split("\n")
          .map(function (line) {
            return line.trim();
          })
          .filter(Boolean);
      }
      return items.map(function (item) {
        return typed(type, item);
      });
    }
    return typed(type, inputs[0].value);
  };

  function negate(node, box) {
    return box.querySelector(":scope > .rv-cb-head > .rv-cb-not-wrap > .rv-cb-not, :scope > .rv-cb-not-wrap > .rv-cb-not").checked
      ? { not: node }
      : node;
  }

  Builder.prototype.treeOf = function (box) {
    const self = this;
    if (box.classList.contains("rv-cb-group")) {
      const kind = box.querySelector(":scope > .rv-cb-head > .rv-cb-kind").value;
      const children = Array.prototype.map.call(box.querySelector(":scope > .rv-cb-children").children, function (child) {
        return self.treeOf(child);
      });
      const group = {};
      group[kind] = children;
      return negate(group, box);
    }
    const leaf = {
      field: box.querySelector(".rv-cb-field").value,
      op: box.querySelector(".rv-cb-op").value,
    };
    const value = this.readValues(box.querySelector(".rv-cb-values"));
    if (value !== undefined) leaf.value = value;
    return negate(leaf, box);
  };

  Builder.prototype.tree = function () {
    const top = this.area.querySelector(".rv-cb-root");
    const tree = this.treeOf(top);
    if (this.wrapped && tree.all && tree.all.length === 1) return tree.all[0];
    return tree;
  };

  Builder.prototype.changed = function () {
    this.sync();
  };

  Builder.prototype.sync = function () {
    this.textarea.value = sortedJSON(this.tree());
  };

  // --- modes ---------------------------------------------------------------------------------

  Builder.prototype.say = function (text) {
    this.note.textContent = text || "";
    this.note.hidden = !text;
  };

  Builder.prototype.showBuilder = function () {
    const text = this.textarea.value.trim();
    let tree;
    try {
      tree = text ? JSON.parse(text) : null;
      if (tree === null) tree = { all: [] }; // empty, or a new form's "null": every record
    } catch (error) {
      this.setMode("json");
      this.say("The JSON below is not valid (" + error.message + "): correct it here, or clear it to start again in the builder.");
      return false;
    }
    try {
      this.load(tree);
    } catch (error) {
      if (!(error instanceof Unshowable)) throw error;
      this.setMode("json");
      this.say("The builder cannot show this condition (" + error.message + "): edit it as JSON; saving checks it against the data dictionary.");
      return false;
    }
    this.say("");
    this.setMode("builder");
    return true;
  };

  Builder.prototype.setMode = function (mode) {
    this.mode = mode;
    this.area.hidden = mode !== "builder";
    this.jsonBox.hidden = mode !== "json";
    this.modes.querySelectorAll(".rv-cb-mode").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
    });
  };

  Builder.prototype.start = function () {
    const self = this;
    this.modes.hidden = false;
    this.modes.querySelectorAll(".rv-cb-mode").forEach(function (button) {
      button.addEventListener("click", function () {
        if (button.dataset.mode === "json") {
          if (self.mode === "builder") self.sync();
          self.say("");
          self.setMode("json");
        } else if (self.mode !== "builder") {
          self.showBuilder();
        }
      });
    });
    this.area.addEventListener("input", function () {
      self.changed();
    });
    this.area.addEventListener("change", function (event) {
      if (!event.target.matches(".rv-cb-field, .rv-cb-op")) self.changed();
    });
    if (this.typeInput) {
      this.typeInput.addEventListener("change", function () {
        if (self.mode === "builder") self.sync();
        self.showBuilder();
      });
    }
    this.showBuilder();
  };

  function startAll(container) {
    container.querySelectorAll("div.rv-cb").forEach(function (root) {
      // An inline formset's template row (.empty-form) starts once cloned, through "formset:added".
      if (root.closest(".empty-form") || root.dataset.started) return;
      root.dataset.started = "1";
      new Builder(root).start();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    startAll(document);
  });
  document.addEventListener("formset:added", function (event) {
    startAll(event.target);
  });
})();
