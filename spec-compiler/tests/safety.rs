//! Safety settings for specifications from untrusted clients: operator lists, the regex policy
//! (off, bounded length, no catastrophic backtracking), the longest string and the largest
//! spec. Each refusal is a typed error with a stable code and the path of the offending node,
//! however deep in `and`/`or`/`not` it is.

use cqrs_mongo_spec::{Compiler, CompilerConfig, ConfigError, ErrorCode, RegexPolicy};
use serde_json::{Value, json};

fn refusal(compiler: &Compiler, spec: &Value) -> (ErrorCode, String) {
    let err = compiler.compile(spec).expect_err("refused");
    (err.code(), err.path_string())
}

fn regex(pattern: &str) -> Value {
    json!({"op": "regex", "attr": "note", "val": pattern})
}

/// `leaf` three levels down: or → not → and.
fn buried(leaf: Value) -> Value {
    json!({"op": "or", "conditions": [
        {"op": "=", "attr": "a", "val": 1},
        {"op": "not", "condition": {"op": "and", "conditions": [{"op": "=", "attr": "b", "val": 2}, leaf]}}
    ]})
}

const BURIED: &str = "<root>.conditions[1].condition.conditions[1]";

#[test]
fn catastrophic_patterns_are_refused_by_default_and_allowed_on_request() {
    let strict = Compiler::default();
    for pattern in ["(a+)+$", "^(a|aa)+$", "(\\w+\\s?)*$", "(.*a){3,}"] {
        assert_eq!(refusal(&strict, &regex(pattern)), (ErrorCode::UnsafeRegex, "<root>.val".into()), "{pattern}");
        assert_eq!(refusal(&strict, &buried(regex(pattern))), (ErrorCode::UnsafeRegex, format!("{BURIED}.val")));
    }
    let lenient = Compiler::new(CompilerConfig::default().with_regex(RegexPolicy::default().allowing_backtracking()));
    let filter = lenient.compile(&regex("(a+)+$")).unwrap();
    assert_eq!(filter.get_document("note").unwrap().get_str("$regex").unwrap(), "(a+)+$");
    // Ordinary patterns are untouched.
    assert!(strict.compile(&regex("^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$")).is_ok());
    assert!(strict.compile(&json!({"op": "iregex", "attr": "note", "val": "^urgent"})).is_ok());
}

/// MongoDB runs PCRE; a pattern the checks would read otherwise than PCRE could hide a
/// catastrophic shape from them.
#[test]
fn patterns_are_checked_as_pcre_reads_them() {
    let strict = Compiler::default();
    // PCRE: the class `[[a]`, then `(b+)+`, then `]`; a nested-class reading sees one class.
    assert_eq!(refusal(&strict, &regex("[[a](b+)+]")), (ErrorCode::InvalidRegex, "<root>.val".into()));
    // PCRE's \v holds \n, its \h holds \t, and `&&` in a class is two characters.
    for pattern in ["(\\v|\\n)+$", "(\\h|\\t)+$", "([a&&b]|&)+$"] {
        assert_eq!(refusal(&strict, &regex(pattern)), (ErrorCode::UnsafeRegex, "<root>.val".into()), "{pattern}");
    }
    // Mistakes PCRE refuses, wherever they are.
    for pattern in ["[\\d-z]", "(?=x)[z-a]", "a*{2,1}", "[--(]"] {
        assert_eq!(refusal(&strict, &regex(pattern)), (ErrorCode::InvalidRegex, "<root>.val".into()), "{pattern}");
    }
    for pattern in ["[[:alpha:]_-]+$", "[\\[\\]]+", "([a-c]|[d-f])+$", "[]a]"] {
        assert!(strict.compile(&regex(pattern)).is_ok(), "{pattern}");
    }
}

#[test]
fn regex_operators_can_be_switched_off_or_bounded_in_length() {
    let off = Compiler::new(CompilerConfig::default().with_regex(RegexPolicy::disabled()));
    assert_eq!(refusal(&off, &regex("^a")), (ErrorCode::RegexNotAllowed, "<root>.op".into()));
    let iregex = json!({"op": "iregex", "attr": "note", "val": "^a"});
    assert_eq!(refusal(&off, &buried(iregex)), (ErrorCode::RegexNotAllowed, format!("{BURIED}.op")));
    assert!(off.compile(&json!({"op": "like", "attr": "note", "val": "a%"})).is_ok(), "like builds its own pattern");

    let short = Compiler::new(CompilerConfig::default().with_regex(RegexPolicy::default().with_max_len(8)));
    assert!(short.compile(&regex("^abcdefg")).is_ok(), "8 bytes");
    assert_eq!(refusal(&short, &regex("^abcdefgh")), (ErrorCode::RegexTooLong, "<root>.val".into()));
    assert_eq!(
        refusal(&Compiler::default(), &regex(&"a".repeat(4097))),
        (ErrorCode::RegexTooLong, "<root>.val".into())
    );
}

#[test]
fn long_strings_are_refused_wherever_they_are() {
    let compiler = Compiler::new(CompilerConfig::default().with_max_string_len(16));
    let long = "x".repeat(17);
    assert!(compiler.compile(&json!({"op": "=", "attr": "a", "val": "x".repeat(16)})).is_ok());
    let cases = [
        (json!({"op": "=", "attr": "a", "val": long}), "<root>.val"),
        (json!({"op": "contains", "attr": "a", "val": long}), "<root>.val"),
        (json!({"op": "in", "attr": "a", "val": ["ok", long]}), "<root>.val[1]"),
        (json!({"op": "=", "attr": "a", "val": {"nested": long}}), "<root>.val.nested"),
    ];
    for (spec, path) in cases {
        assert_eq!(refusal(&compiler, &spec), (ErrorCode::StringTooLong, path.to_owned()), "{spec}");
    }
    let default = Compiler::default();
    let ten_megabytes = json!({"op": "=", "attr": "a", "val": "x".repeat(10 << 20)});
    assert_eq!(refusal(&default, &ten_megabytes), (ErrorCode::StringTooLong, "<root>.val".into()));
    let seventeen = json!({"op": "=", "attr": "a", "val": "x".repeat(17 << 20)});
    assert_eq!(refusal(&default, &seventeen), (ErrorCode::SpecTooLarge, "<root>".into()));
}

#[test]
fn a_specification_larger_than_the_limit_is_refused_at_the_root() {
    let compiler = Compiler::new(CompilerConfig::default().with_max_spec_len(200));
    let small = json!({"op": "in", "attr": "a", "val": [1, 2, 3]});
    assert!(compiler.compile(&small).is_ok());
    let large = json!({"op": "in", "attr": "a", "val": (0..100).collect::<Vec<_>>()});
    assert_eq!(refusal(&compiler, &large), (ErrorCode::SpecTooLarge, "<root>".into()));
    // The count follows the compact JSON text: exactly at the limit passes, one byte over fails.
    let text = serde_json::to_string(&small).unwrap();
    assert!(Compiler::new(CompilerConfig::default().with_max_spec_len(text.len())).compile(&small).is_ok());
    let one_less = Compiler::new(CompilerConfig::default().with_max_spec_len(text.len() - 1));
    assert_eq!(refusal(&one_less, &small).0, ErrorCode::SpecTooLarge);
    assert_eq!(refusal(&one_less, &serde_json::from_str::<Value>(&text).unwrap()).0, ErrorCode::SpecTooLarge);
}

#[test]
fn json_text_longer_than_the_limit_is_refused_before_it_is_parsed() {
    let compiler = Compiler::new(CompilerConfig::default().with_max_spec_len(40));
    // Not even valid JSON: refused for its length, so the parser never read it.
    let long_and_broken = format!("{{\"op\": \"=\", \"attr\": \"a\", \"val\": \"{}", "x".repeat(40));
    let code_path = |err: cqrs_mongo_spec::SpecError| (err.code(), err.path_string());
    let too_large = (ErrorCode::SpecTooLarge, "<root>".to_owned());
    assert_eq!(code_path(compiler.compile_str(&long_and_broken).unwrap_err()), too_large);
    assert_eq!(code_path(compiler.compile_query_str(&long_and_broken, None).unwrap_err()), too_large);
    assert_eq!(code_path(compiler.parse_spec_json(&long_and_broken).unwrap_err()), too_large);
    let units: Vec<u16> = long_and_broken.encode_utf16().collect();
    assert_eq!(code_path(compiler.parse_spec_json_utf16(&units).unwrap_err()), too_large);
    let errors: Vec<_> = compiler.validate_str(&long_and_broken).into_iter().map(code_path).collect();
    assert_eq!(errors, std::slice::from_ref(&too_large));
    // Within the limit, the same text is the syntax error it is; whitespace counts as text.
    let short_and_broken = "{\"op\": \"=\"";
    assert_eq!(compiler.compile_str(short_and_broken).unwrap_err().code(), ErrorCode::InvalidJson);
    let spaced = format!("{{\"op\":\"=\",\"attr\":\"a\",\"val\":1}}{}", " ".repeat(20));
    assert!(spaced.len() > 40 && spaced.trim_end().len() <= 40);
    assert_eq!(code_path(compiler.compile_str(&spaced).unwrap_err()), too_large);
    assert!(compiler.compile_str(spaced.trim_end()).is_ok());
}

#[test]
fn operator_lists_allow_and_deny_by_name_or_alias_and_refuse_unknown_names() {
    let allow = Compiler::try_new(CompilerConfig::default().allow_operators(["=", "in", "and", "or", "not"])).unwrap();
    assert!(allow.compile(&json!({"op": "in", "attr": "a", "val": [1]})).is_ok());
    let like = json!({"op": "like", "attr": "a", "val": "x%"});
    assert_eq!(refusal(&allow, &like), (ErrorCode::OperatorNotAllowed, "<root>.op".into()));
    assert_eq!(refusal(&allow, &buried(like.clone())), (ErrorCode::OperatorNotAllowed, format!("{BURIED}.op")));
    let errors = allow.validate(&json!({"op": "and", "conditions": [like.clone(), regex("^a")]}));
    let codes: Vec<_> = errors.iter().map(|e| (e.code(), e.path_string())).collect();
    assert_eq!(
        codes,
        [
            (ErrorCode::OperatorNotAllowed, "<root>.conditions[0].op".to_owned()),
            (ErrorCode::OperatorNotAllowed, "<root>.conditions[1].op".to_owned())
        ],
        "validate reports every refusal"
    );

    let deny = Compiler::try_new(CompilerConfig::default().deny_operators(["regex", "json_path_exists"])).unwrap();
    assert_eq!(refusal(&deny, &regex("^a")), (ErrorCode::OperatorNotAllowed, "<root>.op".into()));
    assert!(deny.compile(&json!({"op": "iregex", "attr": "a", "val": "^a"})).is_ok(), "only the named ones");

    match Compiler::try_new(CompilerConfig::default().deny_operators(["regexp"])) {
        Err(err @ ConfigError::UnknownOperator { .. }) => assert_eq!(err.setting(), "denied_operators"),
        other => panic!("expected an unknown operator, got {other:?}"),
    }
    let err = Compiler::try_new(CompilerConfig::default().allow_operators(["nope"])).unwrap_err();
    assert_eq!(err.setting(), "allowed_operators");
}

#[test]
fn the_settings_deserialise_from_json_with_defaults_and_refuse_unknown_keys() {
    let config: CompilerConfig = serde_json::from_value(json!({
        "denied_operators": ["regex"],
        "regex": {"max_len": 100},
        "max_string_len": 1000,
        "max_spec_len": 5000
    }))
    .unwrap();
    assert_eq!(config.regex, RegexPolicy::default().with_max_len(100));
    assert_eq!((config.max_string_len, config.max_spec_len, config.max_depth), (1000, 5000, 32));
    assert!(serde_json::from_value::<CompilerConfig>(json!({"regex": {"allow": true}})).is_err());
    assert!(serde_json::from_value::<CompilerConfig>(json!({"max_strings": 1})).is_err());
}

#[test]
fn every_new_code_has_a_stable_name() {
    let names: Vec<&str> = [
        ErrorCode::OperatorNotAllowed,
        ErrorCode::RegexNotAllowed,
        ErrorCode::RegexTooLong,
        ErrorCode::UnsafeRegex,
        ErrorCode::StringTooLong,
        ErrorCode::SpecTooLarge,
    ]
    .iter()
    .map(|c| c.as_str())
    .collect();
    assert_eq!(
        names,
        [
            "operator_not_allowed",
            "regex_not_allowed",
            "regex_too_long",
            "unsafe_regex",
            "string_too_long",
            "spec_too_large"
        ]
    );
    assert!(names.iter().all(|n| ErrorCode::ALL.iter().any(|c| c.as_str() == *n)));
}

#[test]
fn settings_objects_from_the_packages_read_in_either_spelling_with_errors_at_the_key_used() {
    let camel = CompilerConfig::from_settings(&json!({
        "allowedFields": ["a"], "maxDepth": 10, "deniedOperators": ["regex"],
        "regex": {"maxLen": 50, "allowBacktracking": true}, "maxStringLen": 99, "maxSpecLen": null
    }))
    .unwrap();
    let snake = CompilerConfig::from_settings(&json!({
        "allowed_fields": ["a"], "max_depth": 10, "denied_operators": ["regex"],
        "regex": {"max_len": 50, "allow_backtracking": true}, "max_string_len": 99
    }))
    .unwrap();
    assert_eq!(camel, snake);
    assert_eq!(
        (camel.max_depth, camel.regex.max_len, camel.max_spec_len),
        (10, 50, cqrs_mongo_spec::DEFAULT_MAX_SPEC_LEN)
    );
    assert_eq!(CompilerConfig::from_settings(&Value::Null).unwrap(), CompilerConfig::default());

    let at = |settings: Value| {
        let err = CompilerConfig::from_settings(&settings).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidOption, "{err}");
        let keys: Vec<String> = err
            .path()
            .iter()
            .map(|segment| match segment {
                cqrs_mongo_spec::PathSegment::Key(key) => key.clone(),
                cqrs_mongo_spec::PathSegment::Index(index) => index.to_string(),
            })
            .collect();
        keys.join(".")
    };
    assert_eq!(at(json!({"allowedfields": ["a"]})), "settings.allowedfields");
    assert_eq!(at(json!({"maxDepth": -1})), "settings.maxDepth");
    assert_eq!(at(json!({"max_depth": 46})), "settings.max_depth");
    assert_eq!(at(json!({"maxDepth": 46})), "settings.maxDepth");
    assert_eq!(at(json!({"maxNodes": "many"})), "settings.maxNodes");
    assert_eq!(at(json!({"regex": {"maxlen": 1}})), "settings.regex.maxlen");
    assert_eq!(at(json!({"regex": {"maxLen": "long"}})), "settings.regex.maxLen");
    assert_eq!(at(json!({"regex": true})), "settings.regex");
    assert_eq!(at(json!({"deniedOperators": ["regexp"]})), "settings.deniedOperators");
    assert_eq!(at(json!({"max_nodes": 1, "maxNodes": 2})), "settings.maxNodes");
    assert_eq!(at(json!([1])), "settings");
    assert_eq!(at(json!({"output": "js"})), "settings.output", "not a compiler setting");
}
