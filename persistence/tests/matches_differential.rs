//! In-memory evaluation (`cqrs_mongo_spec::Matcher`) against the server, on generated data: a
//! fixed-seed generator makes documents with mixed types on a few fields (every numeric type,
//! strings, dates, null, missing fields, arrays, nested documents, arrays of documents) and
//! filters (compiled from generated specs, and raw filters with the operators specs never
//! produce); each filter runs with `find` on the server and in memory over the same documents,
//! and the `_id` sets must be equal; `matches_raw` on the documents' BSON bytes as the server returns
//! them answers as `matches` does. Bounded: a fixed count of documents and filters, no timing.
//!
//! Runs unchanged on a real mongod with `MONGODB_URI` set. On the embedded SecantusDB the
//! shapes its known bugs answer wrongly are not generated or are kept out (see [`Server`]).

use std::collections::BTreeSet;

use bson::{Bson, DateTime, Decimal128, Document, RawDocumentBuf, Regex, doc, oid::ObjectId};
use cqrs_mongo_persistence::testing::{database, test_name};
use cqrs_mongo_spec::{Compiler, Matcher};
use futures::TryStreamExt;
use serde_json::{Value, json};

const DOCUMENTS: usize = 300;
const SPEC_FILTERS: usize = 200;
const RAW_FILTERS: usize = 100;
const SEED: u64 = 0x5EED_2024_0004;

/// Which server answers, for its known bugs.
#[derive(Clone, Copy, PartialEq)]
enum Server {
    /// `MONGODB_URI` is set: everything is generated and compared.
    Mongod,
    /// The embedded SecantusDB, with seven known bugs (each on a function below):
    /// [`Gen::decimal_pool`] (Decimal128 against Double), [`Gen::expr_paths`] (`$expr` paths
    /// through arrays), [`Gen::regex`] (multiline `^` at the end), [`Gen::item`] (`$elemMatch`
    /// skips array elements), [`logical_first_in_elem_match`], [`null_on_a_position`] and
    /// [`all_read_otherwise`].
    SecantusDb,
}

/// xorshift64*: deterministic, no external randomness.
struct Gen {
    state: u64,
    server: Server,
}

impl Gen {
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// SecantusDB bug: it compares a Decimal128 with a Double through the double's shortest
    /// decimal form (`Decimal(repr(0.1))`), so the Decimal128 `0.1` equals the Double `0.1`;
    /// mongod compares their exact values (the Double is 0.1000000000000000055…, above). Only
    /// decimals no double is close to are generated for it.
    fn decimal_pool(&self) -> &'static [&'static str] {
        match self.server {
            Server::Mongod => &["2", "2.50", "0.1", "-1", "1E+1", "NaN", "3000000000", "-7.25"],
            Server::SecantusDb => &["2", "2.50", "0.3", "-1", "1E+1", "NaN", "3000000000", "-7.25"],
        }
    }

    /// SecantusDB bug: in `$expr` it reads `"$items.v"` over an array of documents as missing
    /// (mongod: the array of the elements' `v`) and `"$arr.0"` as the first element (mongod: the
    /// field `0` of each element document, usually `[]`). Its `$expr` comparisons only get paths
    /// that never cross an array (`sub` is never an array).
    fn expr_paths(&self) -> &'static [&'static str] {
        match self.server {
            Server::Mongod => ATTRS,
            Server::SecantusDb => &["a", "b", "c", "s", "sub", "sub.x", "sub.y", "none"],
        }
    }

    /// A scalar from a small pool, so that documents and filters meet often.
    fn scalar(&mut self) -> Bson {
        match self.below(10) {
            0 | 1 => Bson::Int32(*self.pick(&[-1, 0, 1, 2, 3, 10])),
            2 => Bson::Int64(*self.pick(&[2, 10, 3_000_000_000])),
            3 => Bson::Double(*self.pick(&[0.0, -0.0, 0.1, 1.5, 2.0, 2.5, f64::NAN, f64::INFINITY, -7.25])),
            4 => {
                let text = *self.pick(self.decimal_pool());
                Bson::Decimal128(text.parse::<Decimal128>().expect("a decimal"))
            }
            5 | 6 => {
                let text = *self.pick(&["", "a", "ab", "abc", "B", "b.c", "a\nb", "Ab", "10", "x y", "é", "ab\n"]);
                Bson::String(text.into())
            }
            7 => Bson::DateTime(DateTime::from_millis(*self.pick(&[0, 1_700_000_000_000, 1_709_251_200_000]))),
            8 => Bson::Boolean(self.chance(50)),
            _ if self.chance(30) => Bson::ObjectId(ObjectId::from_bytes([7; 12])),
            _ => Bson::Null,
        }
    }

    /// A stored value: mostly scalars, some arrays (with a nested array now and then) and
    /// documents.
    fn value(&mut self, depth: usize) -> Bson {
        match self.below(10) {
            0 | 1 if depth < 2 => Bson::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            2 if depth < 2 => Bson::Document(doc! {"x": self.value(depth + 1), "y": self.scalar()}),
            _ => self.scalar(),
        }
    }

    /// An element of `items`: mostly `{k, v}` documents (some without `k` or `v`), sometimes
    /// a scalar or an array holding a document.
    ///
    /// SecantusDB bug: `$elemMatch` with a filter body skips array elements; mongod reads an
    /// array element as the document `{"0": …, "1": …}`, so a condition a missing field meets
    /// (`{k: null}`, `{k: {$ne: 1}}`, `{k: {$nin: […]}}`) matches it (mongod's own
    /// `null_query_semantics.js`: `[[]]` matches `{$elemMatch: {b: {$eq: null}}}`). Its `items`
    /// hold no arrays (`items` itself is
    /// an array of items or a scalar).
    fn item(&mut self) -> Bson {
        match self.below(10) {
            0 => self.scalar(),
            1 if self.server == Server::Mongod => Bson::Array(vec![Bson::Document(doc! {"k": "a", "v": 1})]),
            _ => {
                let mut line = Document::new();
                if !self.chance(15) {
                    line.insert("k", (*self.pick(&["a", "b", "ab", "B"])).to_owned());
                }
                if !self.chance(15) {
                    line.insert("v", self.scalar());
                }
                Bson::Document(line)
            }
        }
    }

    fn document(&mut self, id: usize) -> Document {
        let mut doc = doc! {"_id": id as i32};
        for field in ["a", "b", "c", "s", "arr", "sub", "items"] {
            if self.chance(15) {
                continue; // missing
            }
            let v = match field {
                "s" if self.chance(70) => self.scalar(),
                "arr" if self.chance(80) => Bson::Array((0..self.below(4)).map(|_| self.scalar()).collect()),
                "sub" if self.chance(70) => Bson::Document(doc! {"x": self.value(1), "y": self.scalar()}),
                "sub" => self.scalar(),
                "items" if self.chance(80) => Bson::Array((0..self.below(4)).map(|_| self.item()).collect()),
                "items" => self.scalar(),
                _ => self.value(0),
            };
            doc.insert(field, v);
        }
        doc
    }

    fn leaf(&mut self, attrs: &[&str]) -> Value {
        let attr = *self.pick(attrs);
        let ordering = |g: &mut Gen| loop {
            let v = g.scalar();
            if !matches!(v, Bson::Null) {
                return spec_value(&v);
            }
        };
        let text = |g: &mut Gen| json!(g.pick(&["a", "b", "ab", "", "b.c", "A", "%b%", "a_", "%", "x y"]));
        match self.below(16) {
            0 | 1 => json!({"op": self.pick(&["=", "!="]), "attr": attr, "val": spec_value(&self.value(1))}),
            2..=4 => json!({"op": self.pick(&[">", ">=", "<", "<="]), "attr": attr, "val": ordering(self)}),
            5 => {
                let op = self.pick(&["between", "not_between"]);
                json!({"op": op, "attr": attr, "val": [ordering(self), ordering(self)]})
            }
            6 | 7 => {
                let items: Vec<Value> = (0..self.below(4)).map(|_| spec_value(&self.scalar())).collect();
                json!({"op": self.pick(&["in", "not_in", "all"]), "attr": attr, "val": items})
            }
            8 => json!({"op": self.pick(&["is_null", "is_not_null", "is_empty", "is_not_empty"]), "attr": attr}),
            9 | 10 => {
                let op = self.pick(&[
                    "contains",
                    "icontains",
                    "startswith",
                    "istartswith",
                    "endswith",
                    "iendswith",
                    "like",
                    "ilike",
                    "not_like",
                ]);
                json!({"op": op, "attr": attr, "val": text(self)})
            }
            11 => json!({"op": self.pick(&["regex", "iregex"]), "attr": attr, "val": self.pick(PATTERNS)}),
            12 => {
                let paths = self.expr_paths();
                let (left, right) = (*self.pick(paths), *self.pick(paths));
                json!({"op": self.pick(&["=", "!=", ">", ">=", "<", "<="]), "attr": left, "field": right})
            }
            13 if attrs.len() > 3 => {
                let conditions: Vec<Value> = (0..1 + self.below(2)).map(|_| self.leaf(&["k", "v"])).collect();
                json!({"op": "elem_match", "attr": "items", "conditions": conditions})
            }
            14 => json!({"op": "json_has_key", "attr": "sub", "val": self.pick(&["x", "y", "z"])}),
            _ => {
                let attr = self.pick(&["sub", "arr", "items"]);
                json!({"op": "json_contains", "attr": attr, "val": spec_value(&self.value(1))})
            }
        }
    }

    fn spec(&mut self, depth: usize) -> Value {
        match self.below(10) {
            0 | 1 if depth < 2 => {
                let conditions: Vec<Value> = (0..2 + self.below(2)).map(|_| self.spec(depth + 1)).collect();
                json!({"op": self.pick(&["and", "or"]), "conditions": conditions})
            }
            2 if depth < 2 => json!({"op": "not", "condition": self.spec(depth + 1)}),
            _ => self.leaf(ATTRS),
        }
    }

    /// SecantusDB bug: its regexes run on Python's `re`, whose multiline `^` also matches after
    /// a newline that ends the string (`^$` with `m` matches `"ab\n"`); PCRE's does not. It gets
    /// no `m` option on a pattern with `^`.
    fn regex(&mut self) -> Regex {
        let pattern = *self.pick(PATTERNS);
        let options: &[&str] = match self.server {
            Server::SecantusDb if pattern.contains('^') => &["", "i", "s", "x"],
            _ => &["", "i", "m", "s", "x", "ms"],
        };
        Regex { pattern: pattern.try_into().unwrap(), options: (*self.pick(options)).try_into().unwrap() }
    }

    /// A raw filter with the operators and forms specs do not produce.
    fn raw_filter(&mut self) -> Document {
        let field = *self.pick(&["a", "b", "c", "s", "arr", "sub", "sub.x", "items", "items.v", "arr.1"]);
        let v = self.scalar();
        match self.below(14) {
            0 => doc! {field: {"$elemMatch": {"$gt": self.scalar(), "$lte": self.scalar()}}},
            1 => doc! {"items": {"$elemMatch": {"k": *self.pick(&["a", "b"]), "v": {"$gte": self.scalar()}}}},
            2 => doc! {field: {"$size": self.below(4) as i32}},
            3 => {
                let types =
                    ["string", "number", "array", "object", "null", "double", "int", "long", "decimal", "date", "bool"];
                doc! {field: {"$type": *self.pick(&types)}}
            }
            4 => doc! {field: {"$exists": self.chance(50)}},
            5 => doc! {field: {"$all": [v, self.scalar()]}},
            6 => doc! {field: {"$in": [v, Bson::RegularExpression(self.regex())]}},
            7 => doc! {field: {"$not": Bson::RegularExpression(self.regex())}},
            8 => doc! {field: {"$not": {"$gt": v}}},
            9 => doc! {field: self.value(0)},
            10 => {
                let paths = self.expr_paths();
                let (left, right) = (*self.pick(paths), *self.pick(paths));
                let op = *self.pick(&["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]);
                doc! {"$expr": {op: [format!("${left}"), format!("${right}")]}}
            }
            11 => {
                let r = self.regex();
                doc! {field: {"$regex": r.pattern.as_str(), "$options": r.options.as_str()}}
            }
            12 => doc! {"$nor": [{field: v}, {"c": {"$lt": self.scalar()}}]},
            _ => {
                let op = *self.pick(&["$gte", "$lte", "$ne", "$eq"]);
                doc! {field: {op: Bson::Null}}
            }
        }
    }
}

/// A value as spec JSON (canonical Extended JSON keeps the BSON types).
fn spec_value(value: &Bson) -> Value {
    value.clone().into_canonical_extjson()
}

const ATTRS: &[&str] =
    &["a", "b", "c", "s", "arr", "sub", "sub.x", "sub.y", "items", "items.k", "items.v", "items.0.k", "arr.0", "none"];
const PATTERNS: &[&str] = &["^a", "b$", "a.b", "^$", "a|B", "\\d", "^[a-c]+$", "^a\\nb$", "b\\.c", "^.*$", "(?i)^ab$"];

#[tokio::test(flavor = "multi_thread")]
async fn in_memory_evaluation_agrees_with_the_server() {
    let server = match std::env::var("MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => Server::Mongod,
        _ => Server::SecantusDb,
    };
    let mut generator = Gen { state: SEED, server };
    let documents: Vec<Document> = (0..DOCUMENTS).map(|id| generator.document(id)).collect();
    let db = database(test_name!()).await;
    let collection = db.database().collection::<Document>("docs");
    collection.insert_many(documents.clone()).await.expect("insert the documents");
    // The documents as the server returns them, BSON bytes read in place by `matches_raw`.
    let stored: Vec<RawDocumentBuf> = db
        .database()
        .collection::<RawDocumentBuf>("docs")
        .find(doc! {})
        .await
        .expect("read the documents back")
        .try_collect()
        .await
        .expect("read the documents back");
    let stored: std::collections::HashMap<i32, RawDocumentBuf> =
        stored.into_iter().map(|raw| (raw.get_i32("_id").expect("an _id"), raw)).collect();
    assert_eq!(stored.len(), documents.len(), "every document read back");

    let compiler = Compiler::default();
    let mut filters = Vec::with_capacity(SPEC_FILTERS + RAW_FILTERS);
    let mut attempts = 0;
    while filters.len() < SPEC_FILTERS {
        attempts += 1;
        assert!(attempts < SPEC_FILTERS * 20, "the spec generator makes too few compiling specs");
        if let Ok(filter) = compiler.compile(&generator.spec(0)) {
            filters.push(filter);
        }
    }
    filters.extend((0..RAW_FILTERS).map(|_| generator.raw_filter()));

    let mut disagreements = Vec::new();
    let mut kept_out = 0;
    for filter in &filters {
        let tree = Bson::Document(filter.clone());
        let secantus_bug = logical_first_in_elem_match(&tree) || null_on_a_position(&tree) || all_read_otherwise(&tree);
        if server == Server::SecantusDb && secantus_bug {
            kept_out += 1;
            continue;
        }
        let shown = || tree.clone().into_relaxed_extjson();
        let matcher = Matcher::new(filter).unwrap_or_else(|err| panic!("{} cannot be evaluated: {err}", shown()));
        let cursor = collection.find(filter.clone()).projection(doc! {"_id": 1}).await;
        let cursor = cursor.unwrap_or_else(|err| panic!("{} on the server: {err}", shown()));
        let found: Vec<Document> =
            cursor.try_collect().await.unwrap_or_else(|err| panic!("{} on the server: {err}", shown()));
        let on_server: BTreeSet<i32> = found.iter().map(|d| d.get_i32("_id").unwrap()).collect();
        for doc in &documents {
            let id = doc.get_i32("_id").unwrap();
            let in_memory = matcher.matches(doc).expect("evaluates");
            let from_bytes = matcher.matches_raw(&stored[&id]).expect("evaluates the stored bytes");
            if from_bytes != in_memory {
                disagreements.push(format!(
                    "filter {}\n  document {}\n  matches: {in_memory}, matches_raw on the stored bytes: {from_bytes}",
                    shown(),
                    Bson::Document(doc.clone()).into_relaxed_extjson(),
                ));
            }
            if in_memory != on_server.contains(&id) {
                disagreements.push(format!(
                    "filter {}\n  document {}\n  server: {}, in memory: {in_memory}",
                    shown(),
                    Bson::Document(doc.clone()).into_relaxed_extjson(),
                    on_server.contains(&id),
                ));
            }
        }
    }
    println!(
        "compared {} documents x {} filters ({SPEC_FILTERS} generated from specs, {RAW_FILTERS} raw, {kept_out} kept \
         out for SecantusDB bugs): {} disagreements",
        documents.len(),
        filters.len() - kept_out,
        disagreements.len()
    );
    for line in disagreements.iter().take(20) {
        println!("{line}");
    }
    assert!(disagreements.is_empty(), "{} disagreements (the first are printed above)", disagreements.len());
}

/// SecantusDB bug: it reads `{$elemMatch: {$and | $or | $nor: [...]}}` as operators on values
/// (every key starts with `$`) and refuses it ("unknown operator: $and"); mongod reads a body
/// whose first key is a logical operator as a filter on the elements (its `parseElemMatch`: only
/// an operator that takes a path makes a value `$elemMatch`). The compiler emits this shape for
/// `elem_match` with several conditions or with `is_null`-style leaves.
fn logical_first_in_elem_match(value: &Bson) -> bool {
    match value {
        Bson::Document(doc) => doc.iter().any(|(key, inner)| {
            let logical =
                |body: &Document| body.keys().next().is_some_and(|k| matches!(k.as_str(), "$and" | "$or" | "$nor"));
            (key == "$elemMatch" && matches!(inner, Bson::Document(body) if logical(body)))
                || logical_first_in_elem_match(inner)
        }),
        Bson::Array(items) => items.iter().any(logical_first_in_elem_match),
        _ => false,
    }
}

/// SecantusDB bug: a numeric path segment past the end of an array (`arr.1` over `[""]`,
/// `items.0.k` over `[]`) yields a missing value there, so null comparisons (`$eq`, `$gte`,
/// `$lte`, `$in` with null, and their negations) match; mongod's path walk yields nothing for
/// it, and they do not. Conditions comparing a path with a numeric segment to null are kept out.
fn null_on_a_position(value: &Bson) -> bool {
    let positional =
        |path: &str| path.split('.').any(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    let holds_null = |condition: &Bson| -> bool {
        fn any_null(value: &Bson) -> bool {
            match value {
                Bson::Null => true,
                Bson::Document(doc) => doc.values().any(any_null),
                Bson::Array(items) => items.iter().any(any_null),
                _ => false,
            }
        }
        any_null(condition)
    };
    match value {
        Bson::Document(doc) => doc.iter().any(|(key, inner)| {
            (!key.starts_with('$') && positional(key) && holds_null(inner)) || null_on_a_position(inner)
        }),
        Bson::Array(items) => items.iter().any(null_on_a_position),
        _ => false,
    }
}

/// SecantusDB bug: it evaluates `$all` value by value (some value the path reaches must meet
/// every item), where mongod reads `{f: {$all: [x, y]}}` as `{f: x}` and `{f: y}`, each met on
/// its own: `{"items.k": {$all: ["a", "b"]}}` matches `items: [{k: "a"}, {k: "b"}]` on mongod,
/// and `{f: {$all: [null]}}` matches a missing `f`. Kept out: `$all` on a dotted path or with a
/// null item.
fn all_read_otherwise(value: &Bson) -> bool {
    match value {
        Bson::Document(doc) => doc.iter().any(|(key, inner)| {
            let all_items = match inner {
                Bson::Document(ops) => ops.get_array("$all").ok(),
                _ => None,
            };
            let read_otherwise =
                all_items.is_some_and(|items| key.contains('.') || items.iter().any(|item| matches!(item, Bson::Null)));
            read_otherwise || all_read_otherwise(inner)
        }),
        Bson::Array(items) => items.iter().any(all_read_otherwise),
        _ => false,
    }
}
