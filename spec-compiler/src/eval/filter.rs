//! A filter document parsed once into a tree: the logical operators, `$expr`, and the field
//! conditions with their operators (`ops.rs`). Parsing refuses what the server refuses and what
//! this evaluator cannot answer faithfully, with the path of the offending key.

use bson::{Bson, Document};

use super::error::{At, EvalError, EvalErrorCode, Failure};
use super::expr::Expr;
use super::geo;
use super::ops::{Cmp, InList, Operand, Pred, check_operand, parse_size, parse_type};
use super::path::{FieldPath, Obj, Single, single};
use super::regex::Regex;
use super::value::DocRef;

/// A parsed filter.
#[derive(Debug)]
pub(crate) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Nor(Vec<Node>),
    Const(bool),
    /// Every predicate holds for the field.
    Field(FieldPath, Vec<Pred>),
    Expr(Expr),
}

impl Node {
    /// Whether the filter matches `obj`, a document at `level` (the top-level document is
    /// level 1; an `$elemMatch` body meets deeper ones).
    pub(crate) fn matches(&self, obj: Obj<'_>, level: usize) -> Result<bool, Failure> {
        Ok(match self {
            Node::And(nodes) => !any_matches(nodes, obj, level, false)?,
            Node::Or(nodes) => any_matches(nodes, obj, level, true)?,
            Node::Nor(nodes) => !any_matches(nodes, obj, level, true)?,
            Node::Const(value) => *value,
            Node::Field(path, preds) => match single(obj, level, path)? {
                // No array on the way: every predicate meets the one value.
                Single::One(value, level) => {
                    for pred in preds {
                        if !pred.on_value(value, level)? {
                            return Ok(false);
                        }
                    }
                    true
                }
                Single::Arrays => {
                    for pred in preds {
                        if !pred.on_path(obj, level, path)? {
                            return Ok(false);
                        }
                    }
                    true
                }
            },
            Node::Expr(expr) => match obj {
                Obj::Doc(DocRef::Owned(doc)) => expr.holds(doc)?,
                // `$expr` builds values from the document's: a copy of the bytes read once.
                Obj::Doc(bytes) => expr.holds(&bytes.to_document(level)?)?,
                // Refused when parsed: `$expr` only applies to the top-level document.
                Obj::Arr(_) => false,
            },
        })
    }
}

/// Whether some node's answer is `wanted` (short-circuiting).
fn any_matches(nodes: &[Node], obj: Obj<'_>, level: usize, wanted: bool) -> Result<bool, Failure> {
    for node in nodes {
        if node.matches(obj, level)? == wanted {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Where a filter is: the top-level document, or the body of an `$elemMatch` (where the server
/// refuses `$expr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Top,
    Element,
}

/// Parses a filter document (also the body of `$elemMatch` on documents).
pub(crate) fn parse(filter: &Document, at: &At<'_>, level: Level) -> Result<Node, EvalError> {
    at.check_depth()?;
    let entry = |key: &str, value: &Bson| -> Result<Option<Node>, EvalError> {
        let at = at.key(key);
        match key.strip_prefix('$') {
            Some(operator) => top_level(operator, value, &at, level),
            None => Ok(Some(Node::Field(FieldPath::new(key), field_condition(value, &at)?))),
        }
    };
    if filter.len() == 1 {
        let (key, value) = filter.iter().next().expect("one entry");
        return Ok(entry(key, value)?.unwrap_or(Node::And(Vec::new())));
    }
    let mut nodes = Vec::with_capacity(filter.len());
    for (key, value) in filter {
        nodes.extend(entry(key, value)?);
    }
    Ok(if nodes.len() == 1 { nodes.pop().unwrap() } else { Node::And(nodes) })
}

/// `$and` of `children`, with neighbours on the same field merged into one field node
/// (`{$and: [{qty: {$gte: 1}}, {qty: {$lte: 10}}]}` is `{qty: {$gte: 1, $lte: 10}}`: each
/// predicate still meets the field on its own, in the same order, and the field is looked up
/// once).
fn and(mut children: Vec<Node>) -> Node {
    let mut kept = 0;
    for index in 0..children.len() {
        if kept > 0
            && let (Node::Field(path, _), Node::Field(next_path, _)) = (&children[kept - 1], &children[index])
            && path.same(next_path)
        {
            let Node::Field(_, next_preds) = std::mem::replace(&mut children[index], Node::Const(true)) else {
                unreachable!("matched above")
            };
            let Node::Field(_, preds) = &mut children[kept - 1] else { unreachable!("matched above") };
            preds.extend(next_preds);
            continue;
        }
        children.swap(kept, index);
        kept += 1;
    }
    children.truncate(kept);
    if children.len() == 1 { children.pop().unwrap() } else { Node::And(children) }
}

/// A top-level `$` key; `None` for one that matches everything (`$comment`).
fn top_level(operator: &str, value: &Bson, at: &At<'_>, level: Level) -> Result<Option<Node>, EvalError> {
    Ok(Some(match operator {
        "and" | "or" | "nor" => {
            let Bson::Array(items) = value else { return Err(at.invalid(format!("${operator} must be an array"))) };
            if items.is_empty() {
                return Err(at.invalid(format!("${operator} must be a nonempty array")));
            }
            let mut children = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let at = at.index(i);
                let Bson::Document(child) = item else {
                    return Err(at.invalid(format!("${operator} entries need to be full objects")));
                };
                children.push(parse(child, &at, level)?);
            }
            match operator {
                "and" => and(children),
                "or" => Node::Or(children),
                _ => Node::Nor(children),
            }
        }
        "expr" if level == Level::Element => {
            return Err(at.invalid("$expr can only be applied to the top-level document"));
        }
        "expr" => Node::Expr(Expr::parse_top(value, at)?),
        "comment" => return Ok(None),
        "alwaysTrue" => Node::Const(true),
        "alwaysFalse" => Node::Const(false),
        "text" => return Err(at.error(EvalErrorCode::NeedsServer, "$text needs the collection's text index")),
        "where" => return Err(at.error(EvalErrorCode::NeedsServer, "$where runs JavaScript on the server")),
        other => {
            return Err(at.error(EvalErrorCode::UnknownOperator, format!("unknown top level operator: ${other}")));
        }
    }))
}

/// What a field's value in a filter means: an operator document, a regex, or an equality.
fn field_condition(value: &Bson, at: &At<'_>) -> Result<Vec<Pred>, EvalError> {
    match value {
        Bson::RegularExpression(regex) => {
            Ok(vec![Pred::Regex(Regex::new(regex.pattern.as_str(), regex.options.as_str(), at)?)])
        }
        Bson::Document(doc) if is_operator_document(doc) => operators(doc, at),
        other => {
            check_operand(other, at)?;
            Ok(vec![Pred::Cmp(Cmp::Eq, Operand::new(other.clone()))])
        }
    }
}

/// `{$gt: 1}` is operators; `{$ref: …, $id: …}` (a DBRef) and `{a: 1}` are values.
fn is_operator_document(doc: &Document) -> bool {
    doc.keys().next().is_some_and(|first| first.starts_with('$') && first != "$ref")
}

/// The predicates of an operator document `{$gt: 1, $lt: 5}` (all must hold).
pub(crate) fn operators(doc: &Document, at: &At<'_>) -> Result<Vec<Pred>, EvalError> {
    at.check_depth()?;
    let mut preds = Vec::with_capacity(doc.len());
    let (mut regex, mut options) = (None, None);
    for (key, operand) in doc {
        let at = at.key(key);
        match key.as_str() {
            "$regex" => regex = Some(operand),
            "$options" => match operand {
                Bson::String(text) => options = Some(text.as_str()),
                _ => return Err(at.invalid("$options has to be a string")),
            },
            _ => preds.push(operator(key, operand, &at)?),
        }
    }
    match (regex, options) {
        (None, Some(_)) => Err(at.key("$options").invalid("$options needs a $regex")),
        (None, None) => Ok(preds),
        (Some(operand), options) => {
            let at_regex = at.key("$regex");
            let (pattern, own) = match operand {
                Bson::String(pattern) => (pattern.as_str(), ""),
                Bson::RegularExpression(regex) => (regex.pattern.as_str(), regex.options.as_str()),
                _ => return Err(at_regex.invalid("$regex has to be a string")),
            };
            if !own.is_empty() && options.is_some() {
                return Err(at_regex.invalid("options set in both $regex and $options"));
            }
            preds.push(Pred::Regex(Regex::new(pattern, options.unwrap_or(own), &at_regex)?));
            Ok(preds)
        }
    }
}

/// One operator of a field.
fn operator(key: &str, operand: &Bson, at: &At<'_>) -> Result<Pred, EvalError> {
    let cmp = |op: Cmp| -> Result<Pred, EvalError> {
        check_operand(operand, at)?;
        Ok(Pred::Cmp(op, Operand::new(operand.clone())))
    };
    Ok(match key {
        "$eq" => cmp(Cmp::Eq)?,
        "$lt" => cmp(Cmp::Lt)?,
        "$lte" => cmp(Cmp::Lte)?,
        "$gt" => cmp(Cmp::Gt)?,
        "$gte" => cmp(Cmp::Gte)?,
        "$ne" => {
            if matches!(operand, Bson::RegularExpression(_)) {
                return Err(at.invalid("Can't have regex as arg to $ne."));
            }
            Pred::Not(vec![cmp(Cmp::Eq)?])
        }
        "$in" => in_list(operand, at)?,
        "$nin" => Pred::Not(vec![in_list(operand, at)?]),
        "$exists" => {
            if truthy(operand) {
                Pred::Exists
            } else {
                Pred::Not(vec![Pred::Exists])
            }
        }
        "$type" => Pred::Type(parse_type(operand, at)?),
        "$size" => Pred::Size(parse_size(operand, at)?),
        "$all" => all_of(operand, at)?,
        "$elemMatch" => elem_match(operand, at)?,
        "$not" => match operand {
            Bson::RegularExpression(regex) => {
                Pred::Not(vec![Pred::Regex(Regex::new(regex.pattern.as_str(), regex.options.as_str(), at)?)])
            }
            Bson::Document(doc) if doc.is_empty() => return Err(at.invalid("$not cannot be empty")),
            Bson::Document(doc) => {
                if let Some(key) = doc.keys().find(|k| !k.starts_with('$')) {
                    return Err(at.key(key).error(EvalErrorCode::UnknownOperator, format!("unknown operator: {key}")));
                }
                Pred::Not(operators(doc, at)?)
            }
            _ => return Err(at.invalid("$not needs a regex or a document")),
        },
        "$geoWithin" | "$geoIntersects" => Pred::Geo(Box::new(geo::Geo::parse(key, operand, at)?)),
        "$near" | "$nearSphere" | "$geoNear" => {
            return Err(at.error(EvalErrorCode::NeedsServer, format!("{key} sorts by distance: the server runs it")));
        }
        other => return Err(at.error(EvalErrorCode::UnknownOperator, format!("unknown operator: {other}"))),
    })
}

/// MongoDB's truthiness of a query operand (`$exists: 0` is false).
fn truthy(value: &Bson) -> bool {
    match value {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        Bson::Int32(n) => *n != 0,
        Bson::Int64(n) => *n != 0,
        Bson::Double(d) => *d != 0.0,
        Bson::Decimal128(_) => super::number::Num::of(value).is_some_and(|n| !n.is_zero()),
        _ => true,
    }
}

/// `$in: [...]`: values compared for equality, regexes matched, null also meeting missing.
fn in_list(operand: &Bson, at: &At<'_>) -> Result<Pred, EvalError> {
    let Bson::Array(items) = operand else { return Err(at.invalid("$in needs an array")) };
    let mut regexes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = at.index(i);
        match item {
            Bson::RegularExpression(regex) => {
                regexes.push(Regex::new(regex.pattern.as_str(), regex.options.as_str(), &at)?);
            }
            Bson::Document(doc) if is_operator_document(doc) => {
                return Err(at.invalid("cannot nest $ under $in"));
            }
            other => check_operand(other, &at)?,
        }
    }
    let values = items.iter().filter(|item| !matches!(item, Bson::RegularExpression(_))).cloned();
    Ok(Pred::In(InList::new(values, regexes)))
}

/// `$all: [...]`: every value (or every `$elemMatch`) must be met.
fn all_of(operand: &Bson, at: &At<'_>) -> Result<Pred, EvalError> {
    let Bson::Array(items) = operand else { return Err(at.invalid("$all needs an array")) };
    if items.is_empty() {
        return Ok(Pred::Never);
    }
    let is_elem_match =
        |item: &Bson| matches!(item, Bson::Document(d) if d.keys().next().is_some_and(|k| k == "$elemMatch"));
    let elem_matches = is_elem_match(&items[0]);
    let mut preds = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = at.index(i);
        if is_elem_match(item) != elem_matches {
            return Err(at.invalid("$all/$elemMatch has to be consistent"));
        }
        preds.push(match item {
            Bson::Document(doc) if elem_matches => {
                if doc.len() != 1 {
                    return Err(at.invalid("$elemMatch in $all takes exactly one key"));
                }
                elem_match(doc.get("$elemMatch").unwrap(), &at.key("$elemMatch"))?
            }
            Bson::RegularExpression(regex) => {
                Pred::Regex(Regex::new(regex.pattern.as_str(), regex.options.as_str(), &at)?)
            }
            Bson::Document(doc) if is_operator_document(doc) => return Err(at.invalid("no $ expressions in $all")),
            other => {
                check_operand(other, &at)?;
                Pred::Cmp(Cmp::Eq, Operand::new(other.clone()))
            }
        });
    }
    Ok(if preds.len() == 1 { preds.pop().unwrap() } else { Pred::All(preds) })
}

/// `$elemMatch`: on values when its first key is an operator that takes no path
/// (`{$gt: 1}`), on documents otherwise (`{sku: "A", qty: {$gt: 1}}`, `{$and: [...]}`).
fn elem_match(operand: &Bson, at: &At<'_>) -> Result<Pred, EvalError> {
    let Bson::Document(doc) = operand else { return Err(at.invalid("$elemMatch needs an Object")) };
    let pathless = ["$and", "$or", "$nor", "$expr", "$text", "$where", "$comment", "$alwaysTrue", "$alwaysFalse"];
    let on_values =
        doc.keys().next().is_some_and(|first| first.starts_with('$') && !pathless.contains(&first.as_str()));
    if on_values {
        if let Some(key) = doc.keys().find(|k| !k.starts_with('$')) {
            return Err(at.key(key).error(EvalErrorCode::UnknownOperator, format!("unknown operator: {key}")));
        }
        Ok(Pred::ElemMatchValue(operators(doc, at)?))
    } else {
        Ok(Pred::ElemMatchObject(Box::new(parse(doc, at, Level::Element)?)))
    }
}

#[cfg(test)]
mod tests {
    use bson::{Bson, Document, Regex, bson, doc};

    use super::*;
    use crate::eval::EvalErrorCode;

    fn matches(filter: Document, doc: Document) -> bool {
        parse(&filter, &At::Root, Level::Top).unwrap().matches(Obj::Doc(DocRef::Owned(&doc)), 1).unwrap()
    }

    fn error(filter: Document) -> (EvalErrorCode, String) {
        let err = parse(&filter, &At::Root, Level::Top).unwrap_err();
        (err.code(), err.path_string())
    }

    #[test]
    fn null_matches_null_missing_and_arrays_holding_null() {
        let eq_null = || doc! {"a": null};
        assert!(matches(eq_null(), doc! {}));
        assert!(matches(eq_null(), doc! {"a": null}));
        assert!(matches(eq_null(), doc! {"a": [1, null]}));
        assert!(!matches(eq_null(), doc! {"a": [1]}));
        assert!(!matches(eq_null(), doc! {"a": []}));
        assert!(!matches(doc! {"a": {"$type": "null"}}, doc! {}));
        // Through arrays: a document without the field is a missing value; an array with no
        // document yields nothing (MongoDB before SERVER-36681's new semantics).
        assert!(matches(doc! {"a.b": null}, doc! {"a": [{"b": 1}, {"c": 1}]}));
        assert!(!matches(doc! {"a.b": null}, doc! {"a": [1, 2]}));
        assert!(matches(doc! {"a.b": {"$exists": false}}, doc! {"a": [1, 2]}));
    }

    #[test]
    fn negations_negate_the_whole_field() {
        assert!(!matches(doc! {"tags": {"$ne": "a"}}, doc! {"tags": ["b", "a"]}));
        assert!(matches(doc! {"tags": {"$ne": "a"}}, doc! {}));
        assert!(!matches(doc! {"tags": {"$nin": ["x", "a"]}}, doc! {"tags": ["a"]}));
        assert!(!matches(doc! {"q": {"$not": {"$gt": 5}}}, doc! {"q": [1, 10]}));
        assert!(matches(doc! {"q": {"$not": {"$gt": 5}}}, doc! {"q": "99"})); // a string is never > 5
        assert!(!matches(doc! {"a": {"$ne": null}}, doc! {"a": [1, null]}));
    }

    #[test]
    fn arrays_match_by_element_or_as_a_whole() {
        let d = doc! {"tags": ["a", "b"], "m": [[1, 2], 3]};
        assert!(matches(doc! {"tags": "a"}, d.clone()));
        assert!(matches(doc! {"tags": ["a", "b"]}, d.clone()));
        assert!(!matches(doc! {"tags": ["b", "a"]}, d.clone()));
        assert!(matches(doc! {"m": [1, 2]}, d.clone()));
        assert!(!matches(doc! {"m": 1}, d.clone())); // nested arrays are not entered
        assert!(matches(doc! {"q": {"$gt": 1, "$lt": 5}}, doc! {"q": [0, 9]})); // each by another element
        assert!(!matches(doc! {"q": {"$elemMatch": {"$gt": 1, "$lt": 5}}}, doc! {"q": [0, 9]}));
    }

    #[test]
    fn all_needs_every_value_each_met_on_its_own() {
        let d = doc! {"items": [{"k": "a"}, {"k": "b"}]};
        assert!(matches(doc! {"items.k": {"$all": ["a", "b"]}}, d.clone()));
        assert!(!matches(doc! {"items.k": {"$all": ["a", "c"]}}, d));
        assert!(!matches(doc! {"t": {"$all": []}}, doc! {"t": []}));
        assert!(matches(doc! {"t": {"$all": [null]}}, doc! {}));
        let line = doc! {"$elemMatch": {"sku": "A", "qty": {"$gte": 2}}};
        assert!(!matches(doc! {"l": {"$all": [line]}}, doc! {"l": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 5}]}));
    }

    #[test]
    fn elem_match_on_documents_scalars_and_nested_arrays() {
        assert!(!matches(doc! {"a": {"$elemMatch": {"b": 1}}}, doc! {"a": {"b": 1}})); // no array
        assert!(!matches(doc! {"a": {"$elemMatch": {"b": null}}}, doc! {"a": [1, 2]})); // scalars
        // An array element reads as the document {"0": …}: as in mongod's null_query_semantics.js.
        assert!(matches(doc! {"a": {"$elemMatch": {"b": {"$eq": null}}}}, doc! {"a": [[]]}));
        assert!(!matches(doc! {"a": {"$elemMatch": {"b": {"$ne": null}}}}, doc! {"a": [[]]}));
        assert!(matches(doc! {"a": {"$elemMatch": {"$and": [{"b": 1}, {"c": 2}]}}}, doc! {"a": [{"b": 1, "c": 2}]}));
        assert!(matches(doc! {"a": {"$elemMatch": {}}}, doc! {"a": [[1]]}));
        assert!(!matches(doc! {"a": {"$elemMatch": {}}}, doc! {"a": [1]}));
    }

    #[test]
    fn regexes_in_fields_in_and_not() {
        let re = |p: &str, o: &str| {
            Bson::RegularExpression(Regex { pattern: p.try_into().unwrap(), options: o.try_into().unwrap() })
        };
        assert!(matches(doc! {"s": re("^AB", "i")}, doc! {"s": ["x", "abc"]}));
        assert!(matches(doc! {"s": {"$in": [5, re("^a", "")]}}, doc! {"s": "abc"}));
        assert!(matches(doc! {"s": {"$not": re("^a", "")}}, doc! {"s": 42}));
        assert!(matches(doc! {"s": {"$eq": re("^a", "")}}, doc! {"s": re("^a", "")})); // equality, no matching
        assert!(!matches(doc! {"s": {"$eq": re("^a", "")}}, doc! {"s": "abc"}));
        assert!(matches(doc! {"s": {"$regex": re("B$", "i")}}, doc! {"s": "ab"}));
    }

    #[test]
    fn refusals_name_their_place_in_the_filter() {
        let re = Bson::RegularExpression(Regex { pattern: "a".try_into().unwrap(), options: "i".try_into().unwrap() });
        assert_eq!(
            error(doc! {"$or": [{"a": 1}, {"$text": {"$search": "x"}}]}),
            (EvalErrorCode::NeedsServer, "<filter>.$or[1].$text".into())
        );
        assert_eq!(error(doc! {"a": {"$options": "i"}}), (EvalErrorCode::InvalidFilter, "<filter>.a.$options".into()));
        assert_eq!(
            error(doc! {"a": {"$regex": re, "$options": "m"}}),
            (EvalErrorCode::InvalidFilter, "<filter>.a.$regex".into())
        );
        assert_eq!(error(doc! {"a": {"$mod": [2, 0]}}), (EvalErrorCode::UnknownOperator, "<filter>.a.$mod".into()));
        assert_eq!(error(doc! {"$and": []}), (EvalErrorCode::InvalidFilter, "<filter>.$and".into()));
        assert_eq!(
            error(doc! {"a": {"$in": [{"$gt": 1}]}}),
            (EvalErrorCode::InvalidFilter, "<filter>.a.$in[0]".into())
        );
        assert_eq!(error(doc! {"a": {"$ne": re_value()}}), (EvalErrorCode::InvalidFilter, "<filter>.a.$ne".into()));
        assert_eq!(error(doc! {"a": {"$near": [0, 0]}}), (EvalErrorCode::NeedsServer, "<filter>.a.$near".into()));
        assert_eq!(
            error(doc! {"a": {"$regex": "(a)\\1"}}),
            (EvalErrorCode::UnsupportedRegex, "<filter>.a.$regex".into())
        );
    }

    fn re_value() -> Bson {
        bson!(Bson::RegularExpression(Regex { pattern: "x".try_into().unwrap(), options: "".try_into().unwrap() }))
    }

    #[test]
    fn expr_applies_to_the_top_level_document_only() {
        assert_eq!(
            error(doc! {"a": {"$elemMatch": {"$expr": {"$eq": ["$b", 1]}}}}),
            (EvalErrorCode::InvalidFilter, "<filter>.a.$elemMatch.$expr".into())
        );
        assert_eq!(
            error(doc! {"a": {"$elemMatch": {"$or": [{"b": 1}, {"$expr": true}]}}}),
            (EvalErrorCode::InvalidFilter, "<filter>.a.$elemMatch.$or[1].$expr".into())
        );
        assert!(matches(doc! {"$and": [{"$expr": true}]}, doc! {}));
    }

    #[test]
    fn neighbours_on_one_field_merge_without_changing_the_answer() {
        // Each predicate still meets the field on its own: one element > 1, another < 5.
        let both = doc! {"$and": [{"q": {"$gt": 1}}, {"q": {"$lt": 5}}]};
        let Node::Field(_, preds) = parse(&both, &At::Root, Level::Top).unwrap() else { panic!("merged") };
        assert_eq!(preds.len(), 2);
        assert!(matches(both.clone(), doc! {"q": [0, 9]}));
        assert!(!matches(both.clone(), doc! {"q": 5}));
        assert!(matches(both, doc! {"q": 3}));
        let apart = doc! {"$and": [{"q": {"$gt": 1}}, {"r": 1}, {"q": {"$lt": 5}}]};
        assert!(matches!(parse(&apart, &At::Root, Level::Top).unwrap(), Node::And(nodes) if nodes.len() == 3));
        assert!(matches(apart, doc! {"q": [0, 9], "r": 1}));
    }

    #[test]
    fn elem_match_reads_a_nested_array_as_a_document_without_copying_it() {
        assert!(matches(doc! {"a": {"$elemMatch": {"1": "x"}}}, doc! {"a": [["w", "x"]]}));
        assert!(!matches(doc! {"a": {"$elemMatch": {"01": "x"}}}, doc! {"a": [["w", "x"]]}));
        assert!(matches(doc! {"a": {"$elemMatch": {"0.b": 2}}}, doc! {"a": [[{"b": 2}]]}));
        assert!(matches(doc! {"a": {"$elemMatch": {"5": {"$exists": false}}}}, doc! {"a": [["w"]]}));
    }

    #[test]
    fn comments_dbrefs_and_constants() {
        assert!(matches(doc! {"$comment": "why", "a": 1}, doc! {"a": 1}));
        assert!(matches(doc! {"r": {"$ref": "c", "$id": 1}}, doc! {"r": {"$ref": "c", "$id": 1}}));
        assert!(!matches(doc! {"$alwaysFalse": 1}, doc! {}));
        assert!(matches(doc! {}, doc! {"a": 1}));
    }
}
