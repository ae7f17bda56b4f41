//! What a compiler's settings allow, worked out once when the [`Compiler`](crate::Compiler) is
//! built rather than for every leaf: the operators the allow and deny lists admit, as a bit set,
//! and per schema field its operators, cast and place in a sorted name index.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::schema::{FieldDef, FieldSchema};
use crate::config::CompilerConfig;
use crate::operator::{Family, Operator};
use crate::values::ValueType;

/// A set of operators: one bit per variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpSet(u64);

const _: () = assert!(Operator::ALL.len() <= 64, "OpSet holds one bit per operator");

impl OpSet {
    fn bit(op: Operator) -> u64 {
        1 << (op as u64)
    }

    /// The operators named (names or aliases; names that are none are ignored here, the
    /// settings' validation refuses them).
    pub(crate) fn named<S: AsRef<str>>(names: &[S]) -> OpSet {
        OpSet::of(names.iter().filter_map(|name| Operator::parse(name.as_ref())))
    }

    pub(crate) fn of(ops: impl IntoIterator<Item = Operator>) -> OpSet {
        OpSet(ops.into_iter().fold(0, |set, op| set | OpSet::bit(op)))
    }

    pub(crate) fn all() -> OpSet {
        OpSet::of(Operator::ALL.iter().copied())
    }

    pub(crate) fn contains(self, op: Operator) -> bool {
        self.0 & OpSet::bit(op) != 0
    }

    fn without(self, other: OpSet) -> OpSet {
        OpSet(self.0 & !other.0)
    }
}

/// What the schema says about one field, precomputed.
#[derive(Debug, Clone)]
pub(crate) struct FieldRules {
    /// The operators allowed on it.
    pub operators: OpSet,
    /// The cast its values get under the operators that compare values.
    pub cast: Option<ValueType>,
}

/// The schema's fields by name.
#[derive(Debug, Clone)]
pub(crate) struct FieldIndex {
    /// Name → position in the schema.
    by_name: HashMap<String, usize, BuildHasherDefault<NameHasher>>,
    /// Per field, in schema order.
    rules: Vec<FieldRules>,
}

impl FieldIndex {
    fn new(schema: &FieldSchema) -> FieldIndex {
        let by_name = schema.fields.iter().enumerate().map(|(index, def)| (def.name.clone(), index)).collect();
        let rules = schema
            .fields
            .iter()
            .map(|def| FieldRules { operators: OpSet::of(def.allowed_operators()), cast: def.cast() })
            .collect();
        FieldIndex { by_name, rules }
    }

    /// The field a spec names `name` and its rules.
    pub(crate) fn find<'s>(&self, schema: &'s FieldSchema, name: &str) -> Option<(&'s FieldDef, &FieldRules)> {
        let index = *self.by_name.get(name)?;
        Some((schema.fields.get(index)?, self.rules.get(index)?))
    }
}

/// A fast hash for field names (the multiply-rotate hash of rustc's `FxHasher`, eight bytes at a
/// time). Not DoS-resistant, and need not be: the table's keys are the schema's names, fixed
/// when the compiler is built; a spec only looks names up.
#[derive(Default)]
pub(crate) struct NameHasher(u64);

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.0 = (self.0.rotate_left(26) ^ u64::from_le_bytes(tail) ^ bytes.len() as u64).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A compiler's settings, prepared for the walkers.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// The operators the allow and deny lists admit.
    pub operators: OpSet,
    /// The schema's index, when there is a schema.
    pub fields: Option<FieldIndex>,
}

impl Rules {
    pub(crate) fn new(config: &CompilerConfig) -> Rules {
        let allowed = config.allowed_operators.as_deref().map_or_else(OpSet::all, OpSet::named);
        Rules {
            operators: allowed.without(OpSet::named(&config.denied_operators)),
            fields: config.schema.as_ref().map(FieldIndex::new),
        }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new(&CompilerConfig::default())
    }
}

/// Whether the operator compares values, so that a schema casts them by the field's type.
pub(crate) fn casts_values(op: Operator) -> bool {
    matches!(op.family(), Family::Comparison | Family::Set | Family::String)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_become_one_set() {
        let config = CompilerConfig::default().allow_operators(["=", "GE", "in"]).deny_operators(["in"]);
        let rules = Rules::new(&config);
        assert!(rules.operators.contains(Operator::Eq));
        assert!(rules.operators.contains(Operator::Gte));
        assert!(!rules.operators.contains(Operator::In));
        assert!(!rules.operators.contains(Operator::Lt));
        assert!(Rules::default().operators.contains(Operator::JsonPathExists));
        assert_eq!(OpSet::named::<&str>(&[]), OpSet(0));
    }

    #[test]
    fn fields_are_found_by_name_whatever_their_order() {
        let schema: FieldSchema = serde_json::from_value(serde_json::json!({"fields": [
            {"name": "z", "type": "integer"}, {"name": "a", "type": "string", "operators": ["eq"]},
            {"name": "m", "type": "bool", "path": "flags.m"}
        ]}))
        .unwrap();
        let index = FieldIndex::new(&schema);
        let (def, rules) = index.find(&schema, "a").unwrap();
        assert_eq!(def.name, "a");
        assert_eq!(rules.operators, OpSet::of([Operator::Eq]));
        assert_eq!(index.find(&schema, "m").unwrap().0.stored_path(), "flags.m");
        assert_eq!(index.find(&schema, "z").unwrap().1.cast, Some(ValueType::Integer));
        assert!(index.find(&schema, "b").is_none());
    }
}
