//! Which stored field a condition names. The path is checked, the whitelist and the schema apply
//! to the field's full name (`items.sku` for `sku` inside an `elem_match` on `items`), and the
//! filter gets the stored path relative to the innermost `elem_match`'s array.

use std::borrow::Cow;

use super::Walker;
use crate::config::field_path_problem;
use crate::config::prepared::FieldRules;
use crate::config::schema::FieldDef;
use crate::error::ErrorCode;
use crate::out::Out;

/// An `elem_match` the walk is inside.
pub(super) struct Scope {
    /// The array's full name (`orders.items` for `items` inside an elem_match on `orders`).
    pub(super) name: String,
    /// The array's full stored path.
    pub(super) stored: String,
}

/// A schema field and its prepared rules.
pub(super) type Entry<'c> = (&'c FieldDef, &'c FieldRules);

impl<'c, W: Out> Walker<'_, 'c, W> {
    /// Checks the field a condition names under `key` (`attr`, `field`): its path, the whitelist
    /// and the schema. Returns the path the filter uses and the field's schema entry; `None`
    /// after an error.
    pub(super) fn resolve<'n>(&mut self, name: &'n str, key: &'static str) -> Option<(&'n str, Option<Entry<'c>>)>
    where
        'c: 'n,
    {
        self.check_path(name, key)?;
        let full = self.full_name(name);
        let found = self.schema_entry(&full);
        if matches!(found, Some(None)) || !self.config.whitelist_allows(&full) {
            let list = if matches!(found, Some(None)) { "the schema" } else { "the list of allowed fields" };
            self.diag.error_at_key(key, ErrorCode::FieldNotAllowed, format!("the field {full:?} is not in {list}"));
            return None;
        }
        match found.flatten() {
            Some(entry) => Some((self.relative(&full, entry.0.stored_path(), key)?, Some(entry))),
            None => Some((name, None)),
        }
    }

    /// `invalid_field_path` at `key` when `name` is no valid field path.
    pub(super) fn check_path(&mut self, name: &str, key: &'static str) -> Option<()> {
        let Some(problem) = field_path_problem(name) else { return Some(()) };
        self.diag.error_at_key(key, ErrorCode::InvalidFieldPath, format!("invalid field path {name:?}: {problem}"));
        None
    }

    /// The full name of a field named inside the current elem_matches.
    pub(super) fn full_name<'n>(&self, name: &'n str) -> Cow<'n, str> {
        match self.scopes.last() {
            Some(scope) => Cow::Owned(format!("{}.{name}", scope.name)),
            None => Cow::Borrowed(name),
        }
    }

    /// The schema's entry for a full name: `None` without a schema, `Some(None)` when the schema
    /// has no such field.
    pub(super) fn schema_entry(&self, full: &str) -> Option<Option<Entry<'c>>> {
        let rules = self.rules;
        let (schema, index) = self.config.schema.as_ref().zip(rules.fields.as_ref())?;
        Some(index.find(schema, full))
    }

    /// A stored path relative to the innermost elem_match's array; `field_not_allowed` at `key`
    /// when the schema stores the field outside that array.
    pub(super) fn relative(&mut self, full: &str, stored: &'c str, key: &'static str) -> Option<&'c str> {
        let Some(scope) = self.scopes.last() else { return Some(stored) };
        if let Some(rest) = stored.strip_prefix(scope.stored.as_str()).and_then(|rest| rest.strip_prefix('.')) {
            return Some(rest);
        }
        let message =
            format!("the schema stores {full:?} at {stored:?}, outside the array {:?} of the elem_match", scope.stored);
        self.diag.error_at_key(key, ErrorCode::FieldNotAllowed, message);
        None
    }
}
