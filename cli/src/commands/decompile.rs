//! `decompile`: a MongoDB filter (Extended JSON, canonical or relaxed) back into a
//! specification, printed as JSON. Pure: no database.

use std::io::{Read, Write};
use std::path::Path;

use cqrs_mongo_spec::DecompileError;

use crate::args::DecompileArgs;
use crate::error::CliError;

/// Decompiles and prints: indented JSON, or one line with `--compact`.
pub(crate) fn run(args: &DecompileArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let text = read_filter(args.file.as_deref())?;
    let spec = cqrs_mongo_spec::decompile_str(&text).map_err(filter_error)?.to_json();
    let printed = if args.compact { serde_json::to_string(&spec) } else { serde_json::to_string_pretty(&spec) };
    writeln!(out, "{}", printed.map_err(|err| CliError::Output(err.into()))?)?;
    Ok(())
}

/// The filter text from `file`, or from standard input for `-` or no file.
fn read_filter(file: Option<&Path>) -> Result<String, CliError> {
    match file {
        Some(path) if path != Path::new("-") => std::fs::read_to_string(path)
            .map_err(|err| CliError::Usage(format!("cannot read the filter file {}: {err}", path.display()))),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|err| CliError::Usage(format!("cannot read the filter from standard input: {err}")))?;
            Ok(text)
        }
    }
}

/// `code at <filter>.path: message`, as `compile` prints a specification's errors (exit status 2).
fn filter_error(err: DecompileError) -> CliError {
    CliError::Usage(format!("{} at {}: {}", err.code(), err.path_string(), err.message()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decompile(name: &str, text: &str, compact: bool) -> Result<String, CliError> {
        let path = std::env::temp_dir().join(format!("cqrs-mongo-cli-{}-{name}.json", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        let result = run(&DecompileArgs { file: Some(path.clone()), compact }, &mut out);
        let _ = std::fs::remove_file(path);
        result.map(|()| String::from_utf8(out).unwrap())
    }

    #[test]
    fn the_spec_is_printed_as_indented_or_compact_json() {
        let filter = r#"{"total": {"$gte": 100}}"#;
        assert_eq!(
            decompile("pretty", filter, false).unwrap(),
            "{\n  \"op\": \">=\",\n  \"attr\": \"total\",\n  \"val\": 100\n}\n"
        );
        assert_eq!(decompile("compact", filter, true).unwrap(), "{\"op\":\">=\",\"attr\":\"total\",\"val\":100}\n");
    }

    #[test]
    fn a_refused_filter_is_a_usage_error_with_code_and_path() {
        let err = decompile("refused", r#"{"$where": "1"}"#, false).unwrap_err();
        assert_eq!(err.exit_status(), crate::EXIT_USAGE);
        assert!(err.to_string().starts_with("error: unsupported_filter at <filter>.$where: "), "{err}");
    }
}
