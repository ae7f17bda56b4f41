//! The operator vocabulary: names, aliases, families and value shapes.

use serde::Serialize;

macro_rules! operators {
    ($( $variant:ident => $name:literal, $family:ident, $shape:ident, [$($alias:literal),*], $doc:literal; )*) => {
        /// Every operator of the specification language: the legacy language's 45 leaf
        /// operators plus `and`, `or`, `not`, and the `elem_match` group.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Operator {
            $( #[doc = $doc] $variant, )*
        }

        impl Operator {
            /// Every operator, in the order of the legacy enum.
            pub const ALL: &'static [Operator] = &[$(Operator::$variant),*];

            /// The canonical name, as written in specifications (`">="`, `"not_in"`).
            pub const fn name(self) -> &'static str {
                match self { $(Operator::$variant => $name,)* }
            }

            /// The family the operator belongs to.
            pub const fn family(self) -> Family {
                match self { $(Operator::$variant => Family::$family,)* }
            }

            /// The shape of `val` the operator accepts.
            pub const fn value_shape(self) -> ValueShape {
                match self { $(Operator::$variant => ValueShape::$shape,)* }
            }

            /// Word aliases accepted in place of the name (`"gte"`, `"ge"` for `">="`).
            pub const fn aliases(self) -> &'static [&'static str] {
                match self { $(Operator::$variant => &[$($alias),*],)* }
            }

            /// One sentence on what the operator means.
            pub const fn description(self) -> &'static str {
                match self { $(Operator::$variant => $doc,)* }
            }

            /// Exact lookup of a lower-case name or alias.
            fn lookup(lower: &str) -> Option<Operator> {
                match lower {
                    $($name $(| $alias)* => Some(Operator::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

operators! {
    Eq => "=", Comparison, Any, ["eq"], "Equal to the value.";
    Ne => "!=", Comparison, Any, ["ne"], "Not equal to the value (also matches a missing field).";
    Gt => ">", Comparison, Scalar, ["gt"], "Greater than the value.";
    Lt => "<", Comparison, Scalar, ["lt"], "Less than the value.";
    Gte => ">=", Comparison, Scalar, ["gte", "ge"], "Greater than or equal to the value.";
    Lte => "<=", Comparison, Scalar, ["lte", "le"], "Less than or equal to the value.";
    In => "in", Set, List, [], "Equal to one of the values.";
    NotIn => "not_in", Set, List, [], "Equal to none of the values.";
    All => "all", Set, List, [], "An array holding all of the values.";
    Between => "between", Comparison, Range, [], "Between two values, both included.";
    NotBetween => "not_between", Comparison, Range, [], "Below the first or above the second value.";
    Like => "like", String, String, [], "SQL LIKE pattern (% any characters, _ one character).";
    NotLike => "not_like", String, String, [], "Does not match the SQL LIKE pattern.";
    Ilike => "ilike", String, String, [], "Case-insensitive SQL LIKE pattern.";
    Contains => "contains", String, String, [], "Contains the text.";
    Icontains => "icontains", String, String, [], "Contains the text, ignoring case.";
    Startswith => "startswith", String, String, [], "Starts with the text.";
    Istartswith => "istartswith", String, String, [], "Starts with the text, ignoring case.";
    Endswith => "endswith", String, String, [], "Ends with the text.";
    Iendswith => "iendswith", String, String, [], "Ends with the text, ignoring case.";
    Regex => "regex", String, Pattern, [], "Matches the regular expression.";
    Iregex => "iregex", String, Pattern, [], "Matches the regular expression, ignoring case.";
    IsNull => "is_null", Null, Flag, [], "Missing or null.";
    IsNotNull => "is_not_null", Null, Flag, [], "Present and not null.";
    IsEmpty => "is_empty", Null, Flag, [], "Missing, null, an empty string or an empty array.";
    IsNotEmpty => "is_not_empty", Null, Flag, [], "Present, not null, not an empty string, not an empty array.";
    JsonContains => "json_contains", Json, Document, [], "Contains the given keys and values (like PostgreSQL @>).";
    JsonContainedBy => "json_contained_by", Json, Document, [], "Is contained in the given document (no MongoDB form: refused).";
    JsonHasKey => "json_has_key", Json, Key, [], "Has the key.";
    JsonHasAny => "json_has_any", Json, Keys, [], "Has at least one of the keys.";
    JsonHasAll => "json_has_all", Json, Keys, [], "Has all of the keys.";
    JsonPathExists => "json_path_exists", Json, Key, [], "The path exists below the field.";
    Intersects => "intersects", Geo, Geometry, [], "Intersects the GeoJSON geometry.";
    Within => "within", Geo, Geometry, [], "Lies within the GeoJSON polygon.";
    ContainsGeom => "contains_geom", Geo, Geometry, [], "Contains the geometry (no MongoDB form: refused).";
    Touches => "touches", Geo, Geometry, [], "Touches the geometry (no MongoDB form: refused).";
    Crosses => "crosses", Geo, Geometry, [], "Crosses the geometry (no MongoDB form: refused).";
    Overlaps => "overlaps", Geo, Geometry, [], "Overlaps the geometry (no MongoDB form: refused).";
    Disjoint => "disjoint", Geo, Geometry, [], "Does not intersect the geometry.";
    GeomEquals => "geom_equals", Geo, Geometry, [], "Equals the geometry (no MongoDB form: refused).";
    DistanceLt => "distance_lt", Geo, Distance, [], "Within the distance in metres of a point.";
    Dwithin => "dwithin", Geo, Distance, [], "Within the distance in metres of a point.";
    BboxIntersects => "bbox_intersects", Geo, Geometry, [], "Bounding boxes intersect (no MongoDB form: refused).";
    Fts => "fts", Text, String, [], "Full-text search in the collection's text index.";
    FtsPhrase => "fts_phrase", Text, String, [], "Full-text search for an exact phrase.";
    And => "and", Logical, Conditions, [], "All conditions hold.";
    Or => "or", Logical, Conditions, [], "At least one condition holds.";
    Not => "not", Logical, Condition, [], "The condition does not hold.";
    ElemMatch => "elem_match", Logical, Conditions, [], "One element of the array field satisfies all the conditions.";
}

/// Groups of operators, one compiler module each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Family {
    /// `=` `!=` `>` `<` `>=` `<=` `between` `not_between`.
    Comparison,
    /// `in` `not_in` `all`.
    Set,
    /// Pattern and substring operators.
    String,
    /// Null and emptiness tests.
    Null,
    /// Operators on embedded documents.
    Json,
    /// GeoJSON operators.
    Geo,
    /// Full-text search.
    Text,
    /// `and` `or` `not` `elem_match`.
    Logical,
}

/// What `val` must look like for an operator, so a UI can render the right input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ValueShape {
    /// Any value, including null, lists and objects (compared literally).
    Any,
    /// One non-null value that is not a list or an object.
    Scalar,
    /// A list of values (a single value is wrapped in a list).
    List,
    /// A list of exactly two values `[low, high]`.
    Range,
    /// A string.
    String,
    /// A regular-expression string.
    Pattern,
    /// Optional boolean: absent, null or true means as named, false negates.
    Flag,
    /// A JSON document (object), list or scalar.
    Document,
    /// One key or path string.
    Key,
    /// A non-empty list of key strings.
    Keys,
    /// A GeoJSON geometry.
    Geometry,
    /// `[point, metres]` or `{"point": point, "distance": metres}`.
    Distance,
    /// A list of nested specification nodes.
    Conditions,
    /// One nested specification node.
    Condition,
}

impl Operator {
    /// Looks an operator up by name or alias, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<Operator> {
        if !name.bytes().any(|b| b.is_ascii_uppercase()) {
            return Operator::lookup(name); // already lower case: the usual spelling
        }
        let mut buf = [0u8; 24];
        let bytes = name.as_bytes();
        if bytes.len() > buf.len() {
            return None;
        }
        for (slot, byte) in buf.iter_mut().zip(bytes) {
            *slot = byte.to_ascii_lowercase();
        }
        // Lower-casing ASCII bytes keeps UTF-8 valid.
        std::str::from_utf8(&buf[..bytes.len()]).ok().and_then(Operator::lookup)
    }

    /// True for the groups: `and`, `or`, `not` and `elem_match`.
    pub const fn is_logical(self) -> bool {
        matches!(self, Operator::And | Operator::Or | Operator::Not | Operator::ElemMatch)
    }

    /// Up to three operator names or aliases closest to a misspelt name.
    pub fn suggestions(name: &str) -> Vec<&'static str> {
        let lower = name.to_ascii_lowercase();
        let mut scored: Vec<(usize, &'static str)> = Operator::ALL
            .iter()
            .flat_map(|op| std::iter::once(op.name()).chain(op.aliases().iter().copied()))
            .map(|candidate| (levenshtein(&lower, candidate), candidate))
            .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
            .collect();
        scored.sort_by_key(|(distance, _)| *distance);
        scored.into_iter().take(3).map(|(_, name)| name).collect()
    }
}

/// Edit distance between two short strings.
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(previous + 1).min(row[j] + 1);
        }
    }
    row[b.len()]
}

/// Metadata about one operator, for UI operator pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorInfo {
    /// Canonical name.
    pub name: &'static str,
    /// Operator family.
    pub family: Family,
    /// Accepted shape of `val`.
    pub value_shape: ValueShape,
    /// Accepted aliases.
    pub aliases: &'static [&'static str],
    /// False for the operators that are refused with `unsupported_operator`.
    pub supported: bool,
    /// One sentence on the meaning.
    pub description: &'static str,
}

/// Lists every operator with its family, value shape and aliases.
///
/// ```
/// let ops = cqrs_mongo_spec::operators();
/// assert_eq!(ops.len(), 49);
/// let gte = ops.iter().find(|o| o.name == ">=").unwrap();
/// assert_eq!(gte.aliases, &["gte", "ge"]);
/// ```
pub fn operators() -> Vec<OperatorInfo> {
    Operator::ALL
        .iter()
        .map(|op| OperatorInfo {
            name: op.name(),
            family: op.family(),
            value_shape: op.value_shape(),
            aliases: op.aliases(),
            supported: op.is_supported(),
            description: op.description(),
        })
        .collect()
}

impl Operator {
    /// False for operators that have no exact MongoDB form and are always refused.
    pub const fn is_supported(self) -> bool {
        !matches!(
            self,
            Operator::JsonContainedBy
                | Operator::ContainsGeom
                | Operator::Touches
                | Operator::Crosses
                | Operator::Overlaps
                | Operator::GeomEquals
                | Operator::BboxIntersects
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_the_legacy_enum() {
        assert_eq!(Operator::ALL.len(), 49);
        assert_eq!(Operator::ALL.iter().filter(|o| !o.is_logical()).count(), 45);
        let aliases: usize = Operator::ALL.iter().map(|o| o.aliases().len()).sum();
        assert_eq!(aliases, 8);
    }

    #[test]
    fn parse_ignores_case_and_accepts_aliases() {
        assert_eq!(Operator::parse("IN"), Some(Operator::In));
        assert_eq!(Operator::parse("Not_Between"), Some(Operator::NotBetween));
        assert_eq!(Operator::parse("ge"), Some(Operator::Gte));
        assert_eq!(Operator::parse("LE"), Some(Operator::Lte));
        assert_eq!(Operator::parse("=="), None);
        assert_eq!(Operator::parse("a_very_long_operator_name_indeed"), None);
    }

    #[test]
    fn suggestions_find_close_names() {
        assert_eq!(Operator::suggestions("betwen")[0], "between");
        assert!(Operator::suggestions("startwith").contains(&"startswith"));
        assert!(Operator::suggestions("zzzzzzzzzz").is_empty());
    }

    #[test]
    fn levenshtein_basics() {
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("same", "same"), 0);
    }
}
