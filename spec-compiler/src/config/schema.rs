//! A field schema: the fields a UI may offer and the server accepts, one JSON document shared
//! by Rust, the npm and the pip packages (and a React query builder through
//! [`FieldSchema::querybuilder_fields`]).
//!
//! ```json
//! {"fields": [
//!   {"name": "total", "type": "decimal", "label": "Total", "path": "amounts.total"},
//!   {"name": "status", "type": "string", "values": ["placed", "paid"], "operators": ["=", "in"]},
//!   {"name": "tags", "type": "array", "items": "string"}
//! ]}
//! ```
//!
//! With a schema, a spec may only name its fields (`field_not_allowed` otherwise), only with the
//! field's operators (`operator_not_allowed`; by default those meaningful for its type), values
//! are cast by the field's type (a `value_type` in the spec must be the same cast, else
//! `value_type_mismatch`), enumerated values are enforced (`value_not_allowed`), and the compiled
//! filter and query options use the stored `path` (the UI name when none is given).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::field_path_problem;
use crate::operator::Operator;
use crate::options::QueryOptions;
use crate::values::ValueType;

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldType {
    /// Text.
    String,
    /// A whole number (Int32/Int64).
    Integer,
    /// A Decimal128.
    Decimal,
    /// A double.
    Double,
    /// A boolean.
    #[serde(alias = "boolean")]
    Bool,
    /// A date (midnight UTC).
    Date,
    /// A date and time (UTC).
    Datetime,
    /// A UUID (Binary subtype 4).
    Uuid,
    /// An ObjectId (given as `{"$oid": …}`).
    #[serde(alias = "objectId")]
    ObjectId,
    /// A GeoJSON point.
    #[serde(alias = "geoPoint")]
    GeoPoint,
    /// A GeoJSON geometry.
    #[serde(alias = "geoShape")]
    GeoShape,
    /// A list of values of the field's `items` type.
    Array,
    /// A document (queried with the JSON operators).
    #[serde(alias = "json")]
    Object,
}

impl FieldType {
    /// Every field type, in the order of the documentation.
    pub const ALL: [FieldType; 13] = [
        FieldType::String,
        FieldType::Integer,
        FieldType::Decimal,
        FieldType::Double,
        FieldType::Bool,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::Uuid,
        FieldType::ObjectId,
        FieldType::GeoPoint,
        FieldType::GeoShape,
        FieldType::Array,
        FieldType::Object,
    ];
}

/// One field of a [`FieldSchema`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FieldDef {
    /// The name specs (and UIs) use in `attr`.
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// For `array`: the type of the items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<FieldType>,
    /// The operators allowed on it (names or aliases); by default those meaningful for the type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operators: Option<Vec<String>>,
    /// The only values it may be compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    /// The stored document path (default: the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What a UI shows (default: the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The fields a spec may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSchema {
    /// The fields, in the order a UI offers them.
    pub fields: Vec<FieldDef>,
}

/// The operators meaningful for values of `field_type`.
fn default_operators(field_type: FieldType) -> &'static [Operator] {
    use Operator::*;
    const ORDERED: &[Operator] = &[Eq, Ne, Gt, Gte, Lt, Lte, Between, NotBetween, In, NotIn, IsNull, IsNotNull];
    match field_type {
        FieldType::String => &[
            Eq,
            Ne,
            In,
            NotIn,
            Like,
            NotLike,
            Ilike,
            Contains,
            Icontains,
            Startswith,
            Istartswith,
            Endswith,
            Iendswith,
            Regex,
            Iregex,
            IsNull,
            IsNotNull,
            IsEmpty,
            IsNotEmpty,
        ],
        FieldType::Integer | FieldType::Decimal | FieldType::Double | FieldType::Date | FieldType::Datetime => ORDERED,
        FieldType::Bool => &[Eq, Ne, IsNull, IsNotNull],
        FieldType::Uuid | FieldType::ObjectId => &[Eq, Ne, In, NotIn, IsNull, IsNotNull],
        FieldType::GeoPoint | FieldType::GeoShape => {
            &[Intersects, Within, Disjoint, DistanceLt, Dwithin, IsNull, IsNotNull]
        }
        FieldType::Array => &[Eq, In, NotIn, All, IsNull, IsNotNull, IsEmpty, IsNotEmpty],
        FieldType::Object => &[JsonContains, JsonHasKey, JsonHasAny, JsonHasAll, JsonPathExists, IsNull, IsNotNull],
    }
}

/// The cast of values of `field_type`, if any.
fn cast_of(field_type: FieldType) -> Option<ValueType> {
    match field_type {
        FieldType::String => Some(ValueType::String),
        FieldType::Integer => Some(ValueType::Integer),
        FieldType::Decimal => Some(ValueType::Decimal),
        FieldType::Double => Some(ValueType::Float),
        FieldType::Bool => Some(ValueType::Boolean),
        FieldType::Date => Some(ValueType::Date),
        FieldType::Datetime => Some(ValueType::DateTime),
        FieldType::Uuid => Some(ValueType::Uuid),
        _ => None,
    }
}

impl FieldDef {
    /// The stored path.
    pub fn stored_path(&self) -> &str {
        self.path.as_deref().unwrap_or(&self.name)
    }

    /// The operators allowed on this field, in a stable order (listed ones may repeat).
    pub(crate) fn allowed_operators(&self) -> impl Iterator<Item = Operator> + '_ {
        let listed = self.operators.iter().flatten().filter_map(|name| Operator::parse(name));
        let defaults = self.operators.is_none().then(|| default_operators(self.field_type).iter().copied());
        listed.chain(defaults.into_iter().flatten())
    }

    /// Whether `op` may be used on this field.
    pub fn allows(&self, op: Operator) -> bool {
        self.allowed_operators().any(|allowed| allowed == op)
    }

    /// The names of the operators allowed on this field, canonical, in a stable order.
    pub fn operator_names(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for op in self.allowed_operators() {
            if !out.contains(&op.name()) {
                out.push(op.name());
            }
        }
        out
    }

    /// The cast its values get (an array's: its items').
    pub fn cast(&self) -> Option<ValueType> {
        match self.field_type {
            FieldType::Array => self.items.and_then(cast_of),
            other => cast_of(other),
        }
    }
}

impl FieldSchema {
    /// The stored path of UI name `name` (itself when the schema does not list it).
    pub fn stored_path<'a>(&'a self, name: &'a str) -> &'a str {
        self.field(name).map_or(name, FieldDef::stored_path)
    }

    /// `options` with every field name replaced by its stored path.
    pub(crate) fn stored_options(&self, options: &QueryOptions) -> QueryOptions {
        let mut stored = options.clone();
        for key in &mut stored.order_by {
            key.field = self.stored_path(&key.field).to_owned();
        }
        for field in stored.select_fields.iter_mut().chain(stored.group_by.iter_mut()) {
            *field = self.stored_path(field).to_owned();
        }
        stored
    }

    /// The field a spec names `name`.
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Why the schema is unusable, if it is: a duplicate or invalid name or path, an unknown
    /// operator, an array without `items` (or of arrays).
    pub fn problem(&self) -> Option<String> {
        // Names seen so far: the duplicate check is linear in the number of fields.
        let mut seen = std::collections::HashSet::with_capacity(self.fields.len());
        for field in &self.fields {
            if let Some(problem) = field_path_problem(&field.name) {
                return Some(format!("field {:?}: {problem}", field.name));
            }
            if let Some(problem) = field.path.as_deref().and_then(field_path_problem) {
                return Some(format!("the path of field {:?}: {problem}", field.name));
            }
            if !seen.insert(field.name.as_str()) {
                return Some(format!("field {:?} is declared twice", field.name));
            }
            if let Some(name) = field.operators.iter().flatten().find(|n| Operator::parse(n).is_none()) {
                return Some(format!("field {:?} lists {name:?}, which is not an operator", field.name));
            }
            match (field.field_type, field.items) {
                (FieldType::Array, None) => return Some(format!("array field {:?} needs items", field.name)),
                (FieldType::Array, Some(FieldType::Array)) => {
                    return Some(format!("array field {:?}: arrays of arrays are not supported", field.name));
                }
                (FieldType::Array, Some(_)) => {}
                (_, Some(_)) => return Some(format!("field {:?} has items but is not an array", field.name)),
                _ => {}
            }
        }
        None
    }
}

/// What a React query builder (react-querybuilder) needs to render a field's value editor.
fn editor(def: &FieldDef) -> (&'static str, &'static str) {
    if def.values.is_some() {
        return ("text", "select");
    }
    let field_type = match def.field_type {
        FieldType::Array => def.items.unwrap_or(FieldType::String),
        other => other,
    };
    match field_type {
        FieldType::Integer | FieldType::Decimal | FieldType::Double => ("number", "text"),
        FieldType::Bool => ("text", "checkbox"),
        FieldType::Date => ("date", "text"),
        FieldType::Datetime => ("datetime-local", "text"),
        FieldType::GeoPoint | FieldType::GeoShape | FieldType::Object => ("text", "textarea"),
        _ => ("text", "text"),
    }
}

impl FieldSchema {
    /// The schema as react-querybuilder's `fields` array: per field its `name`, `label`,
    /// `inputType`, `valueEditorType`, `operators` (`{name, label}`, exactly those the compiler
    /// accepts on it) and, for enumerated fields, `values` (`{name, label}`). A UI rendering
    /// these offers nothing the server refuses.
    pub fn querybuilder_fields(&self) -> Value {
        let fields = self.fields.iter().map(|def| {
            let (input_type, editor_type) = editor(def);
            let operators: Vec<Value> = def
                .operator_names()
                .into_iter()
                .map(|name| serde_json::json!({ "name": name, "label": name }))
                .collect();
            let mut field = serde_json::json!({
                "name": def.name,
                "label": def.label.as_deref().unwrap_or(&def.name),
                "inputType": input_type,
                "valueEditorType": editor_type,
                "operators": operators,
            });
            if let Some(values) = &def.values {
                let options: Vec<Value> = values
                    .iter()
                    .map(|value| {
                        let label = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                        serde_json::json!({ "name": value, "label": label })
                    })
                    .collect();
                field["values"] = Value::Array(options);
            }
            field
        });
        Value::Array(fields.collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_field_type_once_in_order() {
        // Adding a type breaks this match, which is the reminder to add it to ALL.
        let position = |t: FieldType| match t {
            FieldType::String => 0,
            FieldType::Integer => 1,
            FieldType::Decimal => 2,
            FieldType::Double => 3,
            FieldType::Bool => 4,
            FieldType::Date => 5,
            FieldType::Datetime => 6,
            FieldType::Uuid => 7,
            FieldType::ObjectId => 8,
            FieldType::GeoPoint => 9,
            FieldType::GeoShape => 10,
            FieldType::Array => 11,
            FieldType::Object => 12,
        };
        for (index, field_type) in FieldType::ALL.iter().enumerate() {
            assert_eq!(position(*field_type), index);
        }
    }
}
