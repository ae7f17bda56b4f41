//! Query options (`limit`, `offset`, `order_by`, `select_fields`, `distinct`, `group_by`):
//! parsing the legacy shape and checking fields. Turning them into a find plan and a pipeline
//! is in [`crate::plan`].

use serde_json::{Map, Value};

use crate::config::{CompilerConfig, field_path_problem};
use crate::diag::{Diag, Seg, json_type_name};
use crate::error::ErrorCode;

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The dotted field path.
    pub field: String,
    /// True for descending order.
    pub descending: bool,
}

impl SortKey {
    /// Parses the legacy string form: `"field"`, `"+field"` or `"-field"` (descending).
    pub fn parse(key: &str) -> SortKey {
        match key.strip_prefix('-') {
            Some(field) => SortKey { field: field.to_owned(), descending: true },
            None => SortKey { field: key.strip_prefix('+').unwrap_or(key).to_owned(), descending: false },
        }
    }
}

/// Legacy `QueryOptions`. Build it in Rust or parse it from JSON with
/// [`QueryOptions::from_value`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryOptions {
    /// Most documents to return (≥ 1).
    pub limit: Option<u64>,
    /// Documents to skip; 0 means none.
    pub offset: Option<u64>,
    /// Sort keys in priority order.
    pub order_by: Vec<SortKey>,
    /// Fields to return (projection).
    pub select_fields: Vec<String>,
    /// Return distinct combinations of `select_fields`.
    pub distinct: bool,
    /// Group by these fields, counting documents per group.
    pub group_by: Vec<String>,
}

const KEYS: [&str; 6] = ["limit", "offset", "order_by", "select_fields", "distinct", "group_by"];

impl QueryOptions {
    /// Parses the legacy JSON shape; errors carry paths starting with `"options"`.
    pub fn from_value(value: &Value) -> Result<QueryOptions, crate::SpecError> {
        let mut diag = Diag::with_root(false, "options");
        parse(value, &mut diag).ok_or_else(|| diag.into_first().expect("a failed parse reports an error"))
    }

    /// Sets `limit`.
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Sets `offset`.
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Adds a sort key; a leading `-` means descending (`"-created_at"`).
    pub fn order_by(mut self, key: &str) -> Self {
        self.order_by.push(SortKey::parse(key));
        self
    }

    /// Sets the projection.
    pub fn select<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.select_fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// Asks for distinct combinations of the selected fields.
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Groups by the fields.
    pub fn group_by<I: IntoIterator<Item = S>, S: Into<String>>(mut self, fields: I) -> Self {
        self.group_by = fields.into_iter().map(Into::into).collect();
        self
    }

    /// True when the result needs an aggregation (find cannot express it).
    pub fn needs_aggregation(&self) -> bool {
        self.distinct || !self.group_by.is_empty()
    }
}

/// Parses the JSON shape; `None` when an error was reported.
pub(crate) fn parse(value: &Value, diag: &mut Diag<'_>) -> Option<QueryOptions> {
    let Value::Object(map) = value else {
        diag.error(ErrorCode::InvalidOption, format!("options must be an object, got {}", json_type_name(value)));
        return None;
    };
    for key in map.keys() {
        if !KEYS.contains(&key.as_str()) {
            diag.at(Seg::Owned(key.clone()), |d| {
                d.error(ErrorCode::InvalidOption, format!("unknown option {key:?}; options are {}", KEYS.join(", ")))
            });
        }
    }
    let options = QueryOptions {
        limit: count(map, "limit", 1, diag),
        offset: count(map, "offset", 0, diag),
        order_by: order_by(map, diag),
        select_fields: fields(map, "select_fields", diag),
        distinct: match map.get("distinct") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                diag.error_at_key(
                    "distinct",
                    ErrorCode::InvalidOption,
                    format!("distinct must be true or false, got {}", json_type_name(other)),
                );
                false
            }
        },
        group_by: fields(map, "group_by", diag),
    };
    if map.get("group_by").is_some_and(|g| g.as_array().is_some_and(Vec::is_empty)) {
        diag.error_at_key("group_by", ErrorCode::InvalidOption, "group_by needs at least one field");
    }
    (!diag.has_errors()).then_some(options)
}

fn count(map: &Map<String, Value>, key: &'static str, min: u64, diag: &mut Diag<'_>) -> Option<u64> {
    match map.get(key)? {
        Value::Null => None,
        Value::Number(n) if n.as_u64().is_some_and(|v| v >= min && v <= i64::MAX as u64) => n.as_u64(),
        other => {
            let expected = if min == 0 { "an integer ≥ 0" } else { "an integer ≥ 1" };
            diag.error_at_key(key, ErrorCode::InvalidOption, format!("{key} must be {expected}, got {other}"));
            None
        }
    }
}

fn list<'v>(map: &'v Map<String, Value>, key: &'static str, diag: &mut Diag<'_>) -> &'v [Value] {
    match map.get(key) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(items)) => items,
        Some(other) => {
            diag.error_at_key(
                key,
                ErrorCode::InvalidOption,
                format!("{key} must be a list, got {}", json_type_name(other)),
            );
            &[]
        }
    }
}

fn fields(map: &Map<String, Value>, key: &'static str, diag: &mut Diag<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for (index, item) in list(map, key, diag).iter().enumerate() {
        match item {
            Value::String(field) => out.push(field.clone()),
            other => diag.at(Seg::Key(key), |d| {
                d.at(Seg::Index(index), |d| {
                    d.error(
                        ErrorCode::InvalidOption,
                        format!("{key} items must be field names, got {}", json_type_name(other)),
                    )
                })
            }),
        }
    }
    out
}

fn order_by(map: &Map<String, Value>, diag: &mut Diag<'_>) -> Vec<SortKey> {
    let mut out = Vec::new();
    for (index, item) in list(map, "order_by", diag).iter().enumerate() {
        let key = match item {
            Value::String(key) => Some(SortKey::parse(key)),
            Value::Array(pair) => match pair.as_slice() {
                [Value::String(field), Value::String(direction)] => match direction.to_ascii_lowercase().as_str() {
                    "asc" => Some(SortKey { field: field.clone(), descending: false }),
                    "desc" => Some(SortKey { field: field.clone(), descending: true }),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        match key {
            Some(key) => out.push(key),
            None => diag.at(Seg::Key("order_by"), |d| {
                d.at(Seg::Index(index), |d| {
                    d.error(
                        ErrorCode::InvalidOption,
                        format!("sort keys are \"field\", \"-field\" or [\"field\", \"asc\"|\"desc\"], got {item}"),
                    )
                })
            }),
        }
    }
    out
}

/// Checks field paths, the whitelist, duplicates, collisions and the distinct/group rules.
pub(crate) fn check(options: &QueryOptions, config: &CompilerConfig, diag: &mut Diag<'_>) {
    let sort_fields: Vec<&str> = options.order_by.iter().map(|k| k.field.as_str()).collect();
    check_fields("order_by", &sort_fields, config, diag);
    for (index, field) in sort_fields.iter().enumerate() {
        if sort_fields[..index].contains(field) {
            at_item(diag, "order_by", index, format!("{field:?} appears twice in order_by"));
        }
    }
    let selected: Vec<&str> = options.select_fields.iter().map(String::as_str).collect();
    let grouping = !options.group_by.is_empty();
    let selectable: Vec<&str> = selected.iter().copied().filter(|f| !(grouping && *f == "count")).collect();
    check_fields("select_fields", &selectable, config, diag);
    for (index, field) in selected.iter().enumerate() {
        if let Some(other) = selected[..index].iter().find(|other| collides(field, other)) {
            at_item(
                diag,
                "select_fields",
                index,
                format!("{field:?} collides with {other:?} (one contains the other)"),
            );
        }
    }
    let group: Vec<&str> = options.group_by.iter().map(String::as_str).collect();
    check_fields("group_by", &group, config, diag);
    if grouping {
        check_members("select_fields", &selected, &group, "group_by fields or \"count\"", diag);
        check_members("order_by", &sort_fields, &group, "group_by fields or \"count\"", diag);
    } else if options.distinct {
        if selected.is_empty() {
            diag.error_at_key(
                "distinct",
                ErrorCode::InvalidOption,
                "distinct needs select_fields (documents are always distinct by _id)",
            );
        }
        check_members("order_by", &sort_fields, &selected, "selected fields", diag);
    }
}

fn check_fields(key: &'static str, fields: &[&str], config: &CompilerConfig, diag: &mut Diag<'_>) {
    for (index, field) in fields.iter().enumerate() {
        let (code, message) = if let Some(problem) = field_path_problem(field) {
            (ErrorCode::InvalidFieldPath, format!("invalid field path {field:?}: {problem}"))
        } else if !config.field_allowed(field) {
            (ErrorCode::FieldNotAllowed, format!("the field {field:?} is not in the list of allowed fields"))
        } else {
            continue;
        };
        diag.at(Seg::Key(key), |d| d.at(Seg::Index(index), |d| d.error(code, message)));
    }
}

/// With distinct or group_by, sort and select keys must name output fields.
fn check_members(key: &'static str, fields: &[&str], allowed: &[&str], what: &str, diag: &mut Diag<'_>) {
    for (index, field) in fields.iter().enumerate() {
        let is_count = *field == "count" && what.contains("count");
        if !is_count && !allowed.contains(field) {
            at_item(diag, key, index, format!("{field:?} is not one of the {what}"));
        }
    }
}

fn at_item(diag: &mut Diag<'_>, key: &'static str, index: usize, message: String) {
    diag.at(Seg::Key(key), |d| d.at(Seg::Index(index), |d| d.error(ErrorCode::InvalidOption, message)));
}

/// `a` and `a.b` collide in a projection (so do equal paths).
fn collides(a: &str, b: &str) -> bool {
    let prefix =
        |short: &str, long: &str| long.strip_prefix(short).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
    prefix(a, b) || prefix(b, a)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_both_order_by_forms() {
        let options =
            QueryOptions::from_value(&json!({"order_by": ["-created_at", "+name", ["total", "DESC"]]})).unwrap();
        let keys: Vec<_> = options.order_by.iter().map(|k| (k.field.as_str(), k.descending)).collect();
        assert_eq!(keys, [("created_at", true), ("name", false), ("total", true)]);
    }

    #[test]
    fn reports_option_paths() {
        let err = QueryOptions::from_value(&json!({"order_by": [["name", "up"]]})).unwrap_err();
        assert_eq!(err.path_string(), "<root>.options.order_by[0]");
        let err = QueryOptions::from_value(&json!({"limit": 0})).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidOption);
    }

    #[test]
    fn collisions() {
        assert!(collides("a", "a.b"));
        assert!(collides("a.b", "a"));
        assert!(collides("a", "a"));
        assert!(!collides("a", "ab"));
    }
}
