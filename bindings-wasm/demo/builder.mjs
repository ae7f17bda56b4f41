// The filter builder of the demo pages: a tree of AND/OR groups and conditions over the fields
// of a field schema (react-querybuilder's `fields`, from `querybuilderFields`), each condition
// offering only its field's operators. It turns the tree into a specification, loads a
// specification back into a tree (saying which nodes it cannot show), and marks errors (from
// the compiler in the page, or from a service) on the conditions their paths point at.
// Opt-in node types: NOT groups (`negation`), groups matching one element of an array of
// documents (`arrays`, `elem_match`) and comparisons of two fields (`fieldComparisons`).
// No framework: the tree is re-rendered on structural changes (add, remove, toggle); typing only
// updates the state and calls `onChange`.
import { JSON_SHAPES, PLACEHOLDERS, oneLine, toVal, valueText } from './values.mjs';

export { oneLine };

const FAMILIES = {
  comparison: 'Comparison', set: 'Set', string: 'String', null: 'Null / empty',
  json: 'JSON document', geo: 'Geospatial', text: 'Full-text search',
};
/** The operators that compare a field with another (`{op, attr, field}`). */
const COMPARISONS = ['=', '!=', '>', '>=', '<', '<='];
/** The value of an operator option that compares with another field. */
const FIELD_OP = 'field:';
/** Which input of a row an error path's last key points at. */
const INPUT_OF_KEY = { attr: 'field', op: 'select', val: 'value', field: 'other' };
const GROUP_TEXT = { and: 'all of these match', or: 'any of these match', not: 'none of these match' };

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

export const formatPath = (path) =>
  '<root>' + path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('');

export function comparePaths(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    return typeof a[i] === 'number' && typeof b[i] === 'number' ? a[i] - b[i] : String(a[i]).localeCompare(String(b[i]));
  }
  return a.length - b.length;
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

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A builder in `container`: `fields` are react-querybuilder fields (name, label, operators,
 * values), `operators` the compiler's operator metadata (`operators()`), `onChange` is called
 * after every edit, `newCondition` what a new condition starts as (`{field, op, value}`, value
 * as typed; default: the first field, its first operator, no value). Opt in to `negation` (a
 * NOT choice on groups), `fieldComparisons` (compare a field with another) and `arrays` (names
 * of array-of-documents fields: groups where one element matches all the conditions, offering
 * the fields named below the array, relative to it). Returns `spec()` (the current
 * specification), `load(spec)` (shows a specification; returns the `{path, message}` of each
 * node it cannot show, and then changes nothing), `isEmpty()` (no condition or group yet),
 * `markErrors(errors)` (shows `{code, path, message}` errors on their conditions; `[]` clears
 * them) and `reset()`.
 */
export function createBuilder({
  container, fields, operators, onChange = () => {}, newCondition: start,
  negation = false, fieldComparisons = false, arrays = [],
}) {
  const FIELDS = fields;
  const OPS = new Map(operators.map((op) => [op.name, op]));
  const ALIASES = new Map(operators.flatMap((op) => op.aliases.map((alias) => [alias, op.name])));
  const canonical = (op) => (typeof op === 'string' ? ALIASES.get(op.toLowerCase()) ?? op.toLowerCase() : op);
  let nextCondition = 0;
  let nextGroup = 0;
  const newGroup = (op = 'and', array) => ({ kind: 'group', id: nextGroup++, op, array, children: [] });
  const fieldNamed = (name) => FIELDS.find((f) => f.name === name);
  /** The fields a condition in `scope` (`''`, or `items.` inside an element group) may name. */
  const scopeFields = (scope) => FIELDS.filter((f) => f.name.startsWith(scope) && f.name !== scope)
    .map((f) => ({ ...f, name: f.name.slice(scope.length) }));
  /** The arrays of documents an element group in `scope` may name (with fields below them). */
  const scopeArrays = (scope) => arrays.filter((name) => name.startsWith(scope)
    && FIELDS.some((f) => f.name.startsWith(`${name}.`))).map((name) => name.slice(scope.length));
  /** The operators the schema allows on a field, in the schema's order. */
  const allowedOps = (name) => (fieldNamed(name)?.operators ?? []).map((op) => op.name);
  const first = { field: FIELDS[0].name, op: allowedOps(FIELDS[0].name)[0], value: '' };
  const newCondition = (scope) => {
    const field = scope === '' ? first.field : scopeFields(scope)[0].name;
    const base = { field, op: allowedOps(scope + field)[0], value: '' };
    return { kind: 'cond', id: nextCondition++, ...(scope === '' ? { ...first, ...start } : base), compare: false, other: '' };
  };
  const shapeOf = (op) => OPS.get(op)?.value_shape;
  let root = newGroup();
  /** Whether the root's only condition is the spec itself (a spec loaded from one condition). */
  let bare = false;
  /** DOM elements of each node (condition or group), for marking errors without re-rendering. */
  const views = new Map();
  /** The testid suffix of a group: nothing for the root, `-<id>` for nested groups. */
  const sfx = (group) => (group === root ? '' : `-${group.id}`);
  const rootIsBare = () => bare && root.op !== 'not' && root.children.length === 1;

  function toSpec(node) {
    if (node.kind === 'group') {
      if (node === root && rootIsBare()) return toSpec(node.children[0]);
      const conditions = node.children.map(toSpec);
      if (node.op === 'elem_match') return { op: 'elem_match', attr: node.array, conditions };
      if (node.op !== 'not') return { op: node.op, conditions };
      // NOT of several conditions: none of them holds, the $nor of them all.
      if (conditions.length > 1) return { op: 'not', condition: { op: 'or', conditions } };
      return conditions.length === 1 ? { op: 'not', condition: conditions[0] } : { op: 'not', conditions };
    }
    const leaf = { op: node.op, attr: node.field };
    if (node.compare) {
      leaf.field = node.other;
      return leaf;
    }
    const val = toVal(shapeOf(node.op), node.value);
    if (val !== undefined) leaf.val = val;
    return leaf;
  }

  /** The node an error path points at, and the key below it (`attr`, `val`, `conditions`, …). */
  function locate(path) {
    let node = rootIsBare() ? root.children[0] : root;
    let i = 0;
    while (node?.kind === 'group') {
      if (path[i] === 'conditions' && typeof path[i + 1] === 'number') {
        node = node.children[path[i + 1]];
        i += 2;
      } else if (path[i] === 'condition' && node.children.length === 1) {
        node = node.children[0];
        i += 1;
      } else if (path[i] === 'condition' && path[i + 1] === 'conditions' && typeof path[i + 2] === 'number') {
        node = node.children[path[i + 2]]; // a NOT of several: the `or` written around them
        i += 3;
      } else {
        break;
      }
    }
    return { node: node ?? root, key: path[i] };
  }

  /** The operator select of a condition: only the operators the schema allows on its field. */
  function operatorSelect(cond, scope) {
    const select = h('select', { testid: `op-${cond.id}`, 'aria-label': 'Operator', onchange: () => {
      cond.compare = select.value.startsWith(FIELD_OP);
      cond.op = select.value.replace(FIELD_OP, '');
      updateValueInput(cond, scope);
      onChange();
    } });
    fillOperators(select, cond, scope);
    return select;
  }

  function fillOperators(select, cond, scope) {
    const allowed = allowedOps(scope + cond.field);
    if (!allowed.includes(cond.op)) cond.op = allowed[0];
    const families = [...new Set(allowed.map((name) => OPS.get(name).family))];
    select.replaceChildren(...families.map((family) => h('optgroup', { label: FAMILIES[family] ?? family },
      ...allowed.filter((name) => OPS.get(name).family === family).map((name) => {
        const { aliases, description } = OPS.get(name);
        return h('option', { value: name, title: description }, name + (aliases.length ? `  (${aliases.join(', ')})` : ''));
      }))));
    // Comparing with another field: not inside an element group (MongoDB refuses $expr there).
    const comparable = fieldComparisons && scope === '' ? allowed.filter((name) => COMPARISONS.includes(name)) : [];
    if (comparable.length) {
      select.append(h('optgroup', { label: 'Compare with another field' }, ...comparable.map((name) => h('option', {
        value: FIELD_OP + name, title: `${OPS.get(name).description.replace(/the value/i, 'another field')}`,
      }, `${name} another field`))));
    }
    if (!comparable.includes(cond.op)) cond.compare = false;
    select.value = cond.compare ? FIELD_OP + cond.op : cond.op;
  }

  /** The field select of a condition: the fields of its scope, by label. */
  function fieldSelect(cond, scope) {
    const select = h('select', { testid: `field-${cond.id}`, 'aria-label': 'Field', onchange: () => {
      cond.field = select.value;
      const view = views.get(cond);
      fillOperators(view.select, cond, scope);
      fillOtherFields(view.other, cond, scope);
      view.value.setAttribute('list', `values-${scope}${cond.field}`);
      updateValueInput(cond, scope);
      onChange();
    } }, ...scopeFields(scope).map((f) => h('option', { value: f.name }, f.label)));
    select.value = cond.field;
    return select;
  }

  /** The field a condition compares its field with: any other field of the same scope. */
  function otherFieldSelect(cond, scope) {
    const select = h('select', { testid: `other-${cond.id}`, 'aria-label': 'Other field', class: 'other', onchange: () => {
      cond.other = select.value;
      onChange();
    } });
    fillOtherFields(select, cond, scope);
    return select;
  }

  function fillOtherFields(select, cond, scope) {
    const others = scopeFields(scope).filter((f) => f.name !== cond.field);
    if (!others.some((f) => f.name === cond.other)) cond.other = others[0]?.name ?? '';
    select.replaceChildren(...others.map((f) => h('option', { value: f.name }, f.label)));
    select.value = cond.other;
  }

  /** Shows the value input or the other field's select, hides or re-labels the value input. */
  function updateValueInput(cond, scope) {
    const { value, other, select } = views.get(cond);
    const [shown, hidden] = cond.compare ? [other, value] : [value, other];
    if (hidden.parentNode) hidden.replaceWith(shown);
    if (cond.compare) fillOtherFields(other, cond, scope);
    const shape = shapeOf(cond.op);
    value.hidden = shape === 'flag';
    value.placeholder = PLACEHOLDERS[shape] ?? 'value';
    value.classList.toggle('mono', JSON_SHAPES.includes(shape));
    select.title = OPS.get(cond.op)?.description ?? '';
  }

  function renderCondition(cond, parent, scope) {
    const fieldsHere = scopeFields(scope);
    if (!fieldsHere.some((f) => f.name === cond.field)) cond.field = fieldsHere[0].name;
    const field = fieldSelect(cond, scope);
    const select = operatorSelect(cond, scope);
    const value = h('input', {
      testid: `value-${cond.id}`, value: cond.value, 'aria-label': 'Value', autocomplete: 'off',
      list: `values-${scope}${cond.field}`,
      spellcheck: false, oninput: () => { cond.value = value.value; onChange(); },
    });
    const other = otherFieldSelect(cond, scope);
    const remove = h('button', {
      type: 'button', class: 'icon', testid: `remove-${cond.id}`, title: 'Remove condition',
      'aria-label': 'Remove condition',
      onclick: () => { parent.children.splice(parent.children.indexOf(cond), 1); render(); },
    }, '×');
    const error = h('div', { class: 'error', testid: `error-${cond.id}`, hidden: true });
    const row = h('li', { class: 'row', testid: `row-${cond.id}` },
      h('div', { class: 'cells' }, field, select, cond.compare ? other : value, remove), error);
    views.set(cond, { row, field, select, value, other, error });
    updateValueInput(cond, scope);
    return row;
  }

  /** The AND / OR (/ NOT) toggle of a group and what it means. */
  function groupToggle(group) {
    const s = sfx(group);
    const toggle = h('div', { class: 'segmented', role: 'group', 'aria-label': 'Combine with', testid: `group-op${s}` });
    toggle.dataset.value = group.op;
    for (const op of negation ? ['and', 'or', 'not'] : ['and', 'or']) {
      toggle.append(h('button', {
        type: 'button', testid: `group-op${s}-${op}`, 'aria-pressed': String(group.op === op),
        onclick: () => { group.op = op; render(); container.querySelector(`[data-testid="group-op${s}-${op}"]`)?.focus(); },
      }, op.toUpperCase()));
    }
    return [toggle, h('span', { class: 'muted meaning' }, GROUP_TEXT[group.op])];
  }

  /** The array select of an element group: the arrays of documents of its scope. */
  function arraySelect(group, scope) {
    const select = h('select', { testid: `array-${group.id}`, 'aria-label': 'Array field', class: 'array', onchange: () => {
      group.array = select.value;
      render();
    } }, ...scopeArrays(scope).map((name) => h('option', { value: name }, fieldNamed(scope + name)?.label ?? name)));
    select.value = group.array;
    return select;
  }

  function renderGroup(group, parent, scope) {
    const s = sfx(group);
    const elem = group.op === 'elem_match';
    const array = elem ? arraySelect(group, scope) : undefined;
    const head = h('div', { class: 'group-head' }, ...(elem
      ? [h('span', { class: 'muted' }, 'One element of'), array, h('span', { class: 'muted meaning' }, 'matches all of these')]
      : groupToggle(group)));
    if (parent) {
      head.append(h('button', {
        type: 'button', class: 'icon', testid: `remove-group${s}`, title: 'Remove group', 'aria-label': 'Remove group',
        onclick: () => { parent.children.splice(parent.children.indexOf(group), 1); render(); },
      }, '×'));
    }
    const inner = elem ? `${scope}${group.array}.` : scope;
    const error = h('div', { class: 'error', testid: `group-error${s}`, hidden: true });
    const list = h('ol', { class: 'rows' },
      ...group.children.map((child) => (child.kind === 'group'
        ? h('li', { class: 'nested' }, renderGroup(child, group, inner))
        : renderCondition(child, group, inner))));
    const add = (what, label, make) => h('button', {
      type: 'button', class: 'add', testid: `add-${what}${s}`,
      onclick: () => { const node = make(); group.children.push(node); render(); focusNode(node); },
    }, `+ Add ${label}`);
    const foot = h('div', { class: 'group-foot' },
      add('condition', 'condition', () => newCondition(inner)), add('group', 'group', () => newGroup()));
    const arraysHere = scopeArrays(inner);
    if (arraysHere.length) foot.append(add('element-group', 'array element group', () => newGroup('elem_match', arraysHere[0])));
    const box = h('div', { class: parent ? `group nested-group${elem ? ' element-group' : ''}` : 'group', testid: `group${s}` },
      head, list, error, foot);
    views.set(group, { row: box, error, field: array });
    return box;
  }

  function focusNode(node) {
    if (node.kind === 'cond') views.get(node)?.field.focus();
  }

  function render() {
    views.clear();
    container.replaceChildren(renderGroup(root, null, ''));
    onChange();
  }

  function markErrors(errors) {
    for (const view of views.values()) {
      view.error.hidden = true;
      view.error.replaceChildren();
      delete view.error.dataset.code;
      view.row.classList.remove('invalid');
      for (const key of ['field', 'select', 'value', 'other']) view[key]?.removeAttribute('aria-invalid');
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

  /**
   * The tree of a specification in `scope`, or `undefined` with the reason pushed on
   * `problems` (`{path, message}`) for each node the builder cannot show.
   */
  function fromSpec(spec, scope, path, problems) {
    const cannot = (message, at = path) => { problems.push({ path: at, message }); };
    if (!isObject(spec)) return cannot(`${oneLine(spec)} is not a condition`);
    const op = canonical(spec.op);
    const keys = Object.keys(spec);
    const extra = (allowed) => keys.find((key) => !allowed.includes(key));
    const children = (group, list, at) => {
      if (!Array.isArray(list)) return cannot('the conditions are not a list', at);
      group.children = list.map((child, i) => fromSpec(child, group.op === 'elem_match' ? `${scope}${group.array}.` : scope, [...at, i], problems));
      return group;
    };
    if (op === 'and' || op === 'or') {
      if (extra(['op', 'conditions'])) return cannot(`the builder has no "${extra(['op', 'conditions'])}" on a group`);
      return children(newGroup(op), spec.conditions, [...path, 'conditions']);
    }
    if (op === 'not') {
      if (!negation) return cannot('the builder cannot show NOT');
      const key = 'condition' in spec ? 'condition' : 'conditions';
      if (extra(['op', key]) || (key === 'conditions' && (!Array.isArray(spec.conditions) || spec.conditions.length !== 1))) {
        return cannot('a NOT holds one condition');
      }
      const at = key === 'condition' ? [...path, 'condition'] : [...path, 'conditions', 0];
      const inner = key === 'condition' ? spec.condition : spec.conditions[0];
      const group = newGroup('not');
      // NOT of an `or` of several is what the builder writes for a NOT of several conditions.
      if (isObject(inner) && canonical(inner.op) === 'or' && Object.keys(inner).length === 2
        && Array.isArray(inner.conditions) && inner.conditions.length > 1) {
        return children(group, inner.conditions, [...at, 'conditions']);
      }
      group.children = [fromSpec(inner, scope, at, problems)];
      return group;
    }
    if (op === 'elem_match') {
      if (!scopeArrays(scope).includes(spec.attr)) {
        return cannot(`"${scope}${spec.attr}" is not an array of documents with fields in this schema`, [...path, 'attr']);
      }
      if (extra(['op', 'attr', 'conditions'])) return cannot(`the builder has no "${extra(['op', 'attr', 'conditions'])}" on an element group`);
      return children(newGroup('elem_match', spec.attr), spec.conditions, [...path, 'conditions']);
    }
    return leafFromSpec(spec, op, scope, path, cannot);
  }

  function leafFromSpec(spec, op, scope, path, cannot) {
    const known = ['op', 'attr', 'val', 'field'];
    const unknown = Object.keys(spec).find((key) => !known.includes(key));
    if (unknown) return cannot(`the builder has no input for "${unknown}"`, [...path, unknown]);
    const field = scopeFields(scope).find((f) => f.name === spec.attr);
    if (!field) return cannot(`no field "${spec.attr}" ${scope ? `below "${scope.slice(0, -1)}" ` : ''}in this schema`, [...path, 'attr']);
    if (!allowedOps(scope + field.name).includes(op)) {
      return cannot(`the schema does not offer "${spec.op}" on ${field.label}`, [...path, 'op']);
    }
    const cond = { kind: 'cond', id: nextCondition++, field: field.name, op, value: '', compare: false, other: '' };
    if ('field' in spec) {
      if (!fieldComparisons || scope !== '' || !COMPARISONS.includes(op)) {
        return cannot('the builder cannot compare these two fields', [...path, 'field']);
      }
      if (!scopeFields(scope).some((f) => f.name === spec.field && f.name !== field.name)) {
        return cannot(`no other field "${spec.field}" in this schema`, [...path, 'field']);
      }
      return Object.assign(cond, { compare: true, other: spec.field });
    }
    const text = valueText(shapeOf(op), spec.val, fieldNamed(scope + field.name).inputType);
    if (text === undefined) return cannot(`the value ${oneLine(spec.val)} cannot be typed into the builder`, [...path, 'val']);
    cond.value = text;
    return cond;
  }

  /** Shows `spec` in the builder, or returns why it cannot (and leaves the builder as it was). */
  function load(spec) {
    const saved = [nextCondition, nextGroup];
    nextCondition = 0;
    nextGroup = 0;
    const problems = [];
    const node = fromSpec(spec, '', [], problems);
    if (problems.length) {
      [nextCondition, nextGroup] = saved;
      return problems;
    }
    // A group is the root itself; any other node is the only condition of a bare root.
    bare = !(node.kind === 'group' && node.op !== 'elem_match');
    root = bare ? Object.assign(newGroup(), { children: [node] }) : node;
    render();
    return [];
  }

  /** One datalist per field with enumerated values, suggested by its value inputs. */
  container.after(...FIELDS.filter((f) => f.values).map((f) => h('datalist', { id: `values-${f.name}` },
    ...f.values.map((v) => h('option', { value: v.name }, v.label)))));
  render();
  return {
    spec: () => toSpec(root),
    load,
    isEmpty: () => root.children.length === 0,
    markErrors,
    reset() {
      root = newGroup();
      bare = false;
      render();
    },
  };
}
