// The filter builder of the demo pages: a tree of AND/OR groups and conditions over the fields
// of a field schema (react-querybuilder's `fields`, from `querybuilderFields`), each condition
// offering only its field's operators. It turns the tree into a specification and marks errors
// (from the compiler in the page, or from a service) on the conditions their paths point at.
// No framework: the tree is re-rendered on structural changes (add, remove, toggle); typing only
// updates the state and calls `onChange`.

const FAMILIES = {
  comparison: 'Comparison', set: 'Set', string: 'String', null: 'Null / empty',
  json: 'JSON document', geo: 'Geospatial', text: 'Full-text search',
};
const PLACEHOLDERS = {
  any: 'value', scalar: 'value', list: 'a, b, c', range: 'low, high', string: 'text',
  pattern: 'regular expression', key: 'key or path', keys: 'key1, key2',
  document: '{"key": "value"}', geometry: '{"type": "Point", "coordinates": [lng, lat]}',
  distance: '[[lng, lat], metres]',
};
/** Which input of a row an error path's last key points at. */
const INPUT_OF_KEY = { attr: 'field', op: 'select', val: 'value' };

/** Creates an element: `h('button', {class: 'x', onclick}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'testid') el.dataset.testid = value;
    else if (key in el && key !== 'list') el[key] = value;
    else el.setAttribute(key, value === true ? '' : value);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/** Numeric text becomes a number (integers only while exact in a double); the rest stays text. */
function item(text) {
  if (!NUMBER.test(text)) return text;
  const number = Number(text);
  const integral = /^-?\d+$/.test(text);
  return Number.isFinite(number) && (!integral || Number.isSafeInteger(number)) ? number : text;
}

const splitList = (text) => text.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** The `val` of a condition from its text input (`undefined`: leave `val` out). */
function toVal(shape, text) {
  if (shape === 'flag' || text.trim() === '') return undefined;
  switch (shape) {
    case 'list': case 'range': return splitList(text).map(item);
    case 'keys': return splitList(text);
    case 'any': case 'scalar': return item(text.trim());
    case 'document': case 'geometry': case 'distance':
      try { return JSON.parse(text); } catch { return text; } // the compiler reports the shape
    default: return text;
  }
}

export const formatPath = (path) =>
  '<root>' + path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');

export function comparePaths(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    return typeof a[i] === 'number' && typeof b[i] === 'number' ? a[i] - b[i] : String(a[i]).localeCompare(String(b[i]));
  }
  return a.length - b.length;
}

/** JSON on one line, with a space after `:` and `,` and inside braces. */
export function oneLine(value) {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(oneLine).join(', ')}]`;
  const entries = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${oneLine(v)}`);
  return entries.length ? `{ ${entries.join(', ')} }` : '{}';
}

/** Pretty JSON that keeps an object or list on one line when it fits in `width` characters. */
export function pretty(value, width = 56, indent = '', prefix = 0) {
  const line = oneLine(value);
  if (value === null || typeof value !== 'object' || indent.length + prefix + line.length <= width) return line;
  const inner = indent + '  ';
  const items = Array.isArray(value)
    ? value.map((v) => inner + pretty(v, width, inner))
    : Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pretty(v, width, inner, k.length + 4)}`);
  const [open, close] = Array.isArray(value) ? '[]' : '{}';
  return `${open}\n${items.join(',\n')}\n${indent}${close}`;
}


/**
 * A builder in `container`: `fields` are react-querybuilder fields (name, label, operators,
 * values), `operators` the compiler's operator metadata (`operators()`), `onChange` is called
 * after every edit, `newCondition` what a new condition starts as (`{field, op, value}`, value
 * as typed; default: the first field, its first operator, no value). Returns `spec()` (the
 * current specification), `isEmpty()` (no condition or group yet), `markErrors(errors)` (shows
 * `{code, path, message}` errors on their conditions; `[]` clears them) and `reset()`.
 */
export function createBuilder({ container, fields, operators, onChange = () => {}, newCondition: start }) {
  const FIELDS = fields;
  const OPS = new Map(operators.map((op) => [op.name, op]));
  let nextCondition = 0;
  let nextGroup = 0;
  const newGroup = () => ({ kind: 'group', id: nextGroup++, op: 'and', children: [] });
  const fieldNamed = (name) => FIELDS.find((f) => f.name === name);
  /** The operators the schema allows on a field, in the schema's order. */
  const allowedOps = (name) => (fieldNamed(name)?.operators ?? []).map((op) => op.name);
  const first = { field: FIELDS[0].name, op: allowedOps(FIELDS[0].name)[0], value: '' };
  const newCondition = () => ({ kind: 'cond', id: nextCondition++, ...first, ...start });
  const shapeOf = (op) => OPS.get(op)?.value_shape;
  let root = newGroup();
  /** DOM elements of each node (condition or group), for marking errors without re-rendering. */
  const views = new Map();
  /** The testid suffix of a group: nothing for the root, `-<id>` for nested groups. */
  const sfx = (group) => (group === root ? '' : `-${group.id}`);

  function toSpec(node) {
    if (node.kind === 'group') return { op: node.op, conditions: node.children.map(toSpec) };
    const leaf = { op: node.op, attr: node.field };
    const val = toVal(shapeOf(node.op), node.value);
    if (val !== undefined) leaf.val = val;
    return leaf;
  }

  /** The node an error path points at, and the key below it (`attr`, `val`, `conditions`, …). */
  function locate(path) {
    let node = root;
    let i = 0;
    while (node?.kind === 'group' && path[i] === 'conditions' && typeof path[i + 1] === 'number') {
      node = node.children[path[i + 1]];
      i += 2;
    }
    return { node: node ?? root, key: path[i] };
  }

  /** The operator select of a condition: only the operators the schema allows on its field. */
  function operatorSelect(cond) {
    const select = h('select', { testid: `op-${cond.id}`, 'aria-label': 'Operator', onchange: () => {
      cond.op = select.value;
      updateValueInput(cond);
      onChange();
    } });
    fillOperators(select, cond);
    return select;
  }

  function fillOperators(select, cond) {
    const allowed = allowedOps(cond.field);
    if (!allowed.includes(cond.op)) cond.op = allowed[0];
    const families = [...new Set(allowed.map((name) => OPS.get(name).family))];
    select.replaceChildren(...families.map((family) => h('optgroup', { label: FAMILIES[family] ?? family },
      ...allowed.filter((name) => OPS.get(name).family === family).map((name) => {
        const { aliases, description } = OPS.get(name);
        return h('option', { value: name, title: description }, name + (aliases.length ? `  (${aliases.join(', ')})` : ''));
      }))));
    select.value = cond.op;
  }

  /** The field select of a condition: the schema's fields, by label. */
  function fieldSelect(cond) {
    const select = h('select', { testid: `field-${cond.id}`, 'aria-label': 'Field', onchange: () => {
      cond.field = select.value;
      const view = views.get(cond);
      fillOperators(view.select, cond);
      view.value.setAttribute('list', `values-${cond.field}`);
      updateValueInput(cond);
      onChange();
    } }, ...FIELDS.map((f) => h('option', { value: f.name }, f.label)));
    select.value = cond.field;
    return select;
  }

  /** Shows, hides and re-labels the value input for the condition's operator. */
  function updateValueInput(cond) {
    const { value, select } = views.get(cond);
    const shape = shapeOf(cond.op);
    value.hidden = shape === 'flag';
    value.placeholder = PLACEHOLDERS[shape] ?? 'value';
    value.classList.toggle('mono', ['document', 'geometry', 'distance'].includes(shape));
    select.title = OPS.get(cond.op)?.description ?? '';
  }

  function renderCondition(cond, parent) {
    const field = fieldSelect(cond);
    const select = operatorSelect(cond);
    const value = h('input', {
      testid: `value-${cond.id}`, value: cond.value, 'aria-label': 'Value', autocomplete: 'off',
      list: `values-${cond.field}`,
      spellcheck: false, oninput: () => { cond.value = value.value; onChange(); },
    });
    const remove = h('button', {
      type: 'button', class: 'icon', testid: `remove-${cond.id}`, title: 'Remove condition',
      'aria-label': 'Remove condition',
      onclick: () => { parent.children.splice(parent.children.indexOf(cond), 1); render(); },
    }, '×');
    const error = h('div', { class: 'error', testid: `error-${cond.id}`, hidden: true });
    const row = h('li', { class: 'row', testid: `row-${cond.id}` },
      h('div', { class: 'cells' }, field, select, value, remove), error);
    views.set(cond, { row, field, select, value, error });
    updateValueInput(cond);
    return row;
  }

  function renderGroup(group, parent) {
    const s = sfx(group);
    const toggle = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Combine with', testid: `group-op${s}` });
    toggle.dataset.value = group.op;
    for (const op of ['and', 'or']) {
      toggle.append(h('button', {
        type: 'button', testid: `group-op${s}-${op}`, 'aria-pressed': String(group.op === op),
        onclick: () => { group.op = op; render(); container.querySelector(`[data-testid="group-op${s}-${op}"]`)?.focus(); },
      }, op.toUpperCase()));
    }
    const head = h('div', { class: 'group-head' }, toggle,
      h('span', { class: 'muted' }, group.op === 'and' ? 'all of these match' : 'any of these match'));
    if (parent) {
      head.append(h('button', {
        type: 'button', class: 'icon', testid: `remove-group${s}`, title: 'Remove group', 'aria-label': 'Remove group',
        onclick: () => { parent.children.splice(parent.children.indexOf(group), 1); render(); },
      }, '×'));
    }
    const error = h('div', { class: 'error', testid: `group-error${s}`, hidden: true });
    const list = h('ol', { class: 'rows' },
      ...group.children.map((child) => (child.kind === 'group'
        ? h('li', { class: 'nested' }, renderGroup(child, group))
        : renderCondition(child, group))));
    const add = (what, make) => h('button', {
      type: 'button', class: 'add', testid: `add-${what}${s}`,
      onclick: () => { const node = make(); group.children.push(node); render(); focusNode(node); },
    }, `+ Add ${what}`);
    const box = h('div', { class: parent ? 'group nested-group' : 'group', testid: `group${s}` },
      head, list, error, h('div', { class: 'group-foot' }, add('condition', newCondition), add('group', newGroup)));
    views.set(group, { row: box, error });
    return box;
  }

  function focusNode(node) {
    if (node.kind === 'cond') views.get(node)?.field.focus();
  }

  function render() {
    views.clear();
    container.replaceChildren(renderGroup(root, null));
    onChange();
  }

  function markErrors(errors) {
    for (const view of views.values()) {
      view.error.hidden = true;
      view.error.replaceChildren();
      delete view.error.dataset.code;
      view.row.classList.remove('invalid');
      for (const key of ['field', 'select', 'value']) view[key]?.removeAttribute('aria-invalid');
    }
    for (const err of errors) {
      const { node, key } = locate(err.path);
      const view = views.get(node);
      if (!view) continue;
      view.error.hidden = false;
      view.error.dataset.code ??= err.code;
      view.error.append(h('div', { 'data-code': err.code }, h('code', {}, err.code), ' ', err.message));
      view.row.classList.add('invalid');
      view[INPUT_OF_KEY[key]]?.setAttribute('aria-invalid', 'true');
    }
  }

  /** One datalist per field with enumerated values, suggested by its value inputs. */
  container.after(...FIELDS.filter((f) => f.values).map((f) => h('datalist', { id: `values-${f.name}` },
    ...f.values.map((v) => h('option', { value: v.name }, v.label)))));
  render();
  return {
    spec: () => toSpec(root),
    isEmpty: () => root.children.length === 0,
    markErrors,
    reset() {
      root = newGroup();
      render();
    },
  };
}
