// "Load a MongoDB filter": the specification a pasted filter decompiles to, with the field
// schema's names in place of the stored paths the filter holds, and how to describe a refusal.
// The filter holds stored paths (`customer.name`) and cast values; the builder and the compiler
// in the page speak the schema's names (`customer`). A path no field is stored at is reported,
// never guessed: `customer` in a filter is not the field named `customer`, stored elsewhere.

const stored = (field) => field.path ?? field.name;

/**
 * `spec` with the schema's names in `attr` (and `field`) for the stored paths of the filter,
 * and the `{path, message}` of each path no field of `schema` is stored at. Inside an
 * `elem_match` the paths are relative to the array, and so are the names.
 */
export function withSchemaNames(spec, schema) {
  const problems = [];
  const nameOf = (path, scope, at) => {
    const field = schema.fields.find((f) => f.name.startsWith(scope.names) && stored(f) === scope.paths + path);
    if (!field) {
      problems.push({ path: at, message: `no field of the schema is stored at "${scope.paths}${path}"` });
      return { name: path, field };
    }
    return { name: field.name.slice(scope.names.length), field };
  };
  const walk = (node, scope, at) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return node;
    const out = { ...node };
    if (Array.isArray(node.conditions) && typeof node.attr === 'string') { // elem_match
      const { name, field } = nameOf(node.attr, scope, [...at, 'attr']);
      out.attr = name;
      const inner = field ? { names: `${field.name}.`, paths: `${stored(field)}.` } : scope;
      out.conditions = node.conditions.map((child, i) => walk(child, inner, [...at, 'conditions', i]));
      return out;
    }
    if (Array.isArray(node.conditions)) out.conditions = node.conditions.map((child, i) => walk(child, scope, [...at, 'conditions', i]));
    if ('condition' in node) out.condition = walk(node.condition, scope, [...at, 'condition']);
    if (typeof node.attr === 'string') out.attr = nameOf(node.attr, scope, [...at, 'attr']).name;
    if (typeof node.field === 'string') out.field = nameOf(node.field, scope, [...at, 'field']).name;
    return out;
  };
  return { spec: walk(spec, { names: '', paths: '' }, []), problems };
}

/** `<filter>.$or[1]["items.sku"]`, as the package writes the path of a DecompileError. */
export function formatFilterPath(path) {
  return path.reduce((text, seg) => {
    if (typeof seg === 'number') return `${text}[${seg}]`;
    return /^[\p{Alphabetic}\p{N}_$]+$/u.test(seg) ? `${text}.${seg}` : `${text}[${JSON.stringify(seg)}]`;
  }, '<filter>');
}

/** The message of an error without the `at <where>: ` it starts with (the path is shown apart). */
export function bareMessage(err, where) {
  const prefix = `at ${where}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}
