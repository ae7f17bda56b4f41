//! What can go wrong, how it is printed (`error: ...` on standard error) and the exit status.

use std::fmt;
use std::io;
use std::process::ExitCode;

use cqrs_mongo_spec::SpecError;

/// Exit status of a command that failed at run time (database, output).
pub const EXIT_FAILURE: u8 = 1;

/// Exit status of bad input: a specification that does not compile, an unreadable file, a
/// projection this binary does not register (and, from `clap`, bad arguments).
pub const EXIT_USAGE: u8 = 2;

/// How projections get registered, printed after [`CliError::ProjectionNotRegistered`].
const REGISTER_HELP: &str = "help: projections are registered by the binary, not found in the database: an application \
builds its own binary that calls cqrs_mongo_cli::run(cli, projections) with its projections listed (see the \
cqrs-mongo-cli crate documentation)";

/// A failed command.
#[derive(Debug)]
#[non_exhaustive]
pub enum CliError {
    /// The specification or its options do not compile: every error found, the first being
    /// the compiler's.
    Spec(Vec<SpecError>),
    /// Bad input other than a specification or a projection name (a missing file).
    Usage(String),
    /// The projection named on the command line is not registered in this binary: the generic
    /// `cqrs-mongo` registers none, an application's binary registers its own.
    ProjectionNotRegistered {
        /// The name asked for.
        name: String,
        /// The names this binary registers, in registration order (empty for `cqrs-mongo`).
        registered: Vec<String>,
    },
    /// The server could not be reached.
    Connect {
        /// The URI, with any password masked.
        uri: String,
        /// The database name.
        database: String,
        /// Why (boxed: the persistence error is large).
        source: Box<cqrs_mongo_persistence::Error>,
    },
    /// A database operation failed.
    Database {
        /// What was being done.
        context: String,
        /// Why (boxed: the persistence error is large).
        source: Box<cqrs_mongo_persistence::Error>,
    },
    /// The event named on the command line is not parked by that projection or subscription.
    NotParked {
        /// The projection or subscription.
        name: String,
        /// The event id.
        event_id: String,
    },
    /// Writing the output failed.
    Output(io::Error),
    /// Ctrl-C could not be listened for.
    Signal(io::Error),
}

impl CliError {
    /// A database error while doing `context`.
    pub(crate) fn database(context: impl Into<String>) -> impl FnOnce(cqrs_mongo_persistence::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Database { context, source: Box::new(source) }
    }

    /// The exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::Spec(_) | CliError::Usage(_) | CliError::ProjectionNotRegistered { .. } => EXIT_USAGE,
            CliError::Connect { .. }
            | CliError::Database { .. }
            | CliError::NotParked { .. }
            | CliError::Output(_)
            | CliError::Signal(_) => EXIT_FAILURE,
        }
    }

    /// Prints the error to standard error and returns the exit code. A closed output pipe
    /// (`cqrs-mongo events tail | head`) is not reported: the reader simply stopped reading.
    pub fn report(&self) -> ExitCode {
        if let CliError::Output(err) = self
            && err.kind() == io::ErrorKind::BrokenPipe
        {
            return ExitCode::SUCCESS;
        }
        eprint!("{self}");
        ExitCode::from(self.exit_status())
    }
}

/// One `error: ...` line per problem, each ending with a newline; a `help: ...` line follows
/// when there is something to do about it.
impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Spec(errors) => {
                for err in errors {
                    writeln!(f, "error: {} at {}: {}", err.code(), err.path_string(), err.message())?;
                }
                Ok(())
            }
            CliError::Usage(message) => writeln!(f, "error: {message}"),
            CliError::ProjectionNotRegistered { name, registered } => {
                let registered = if registered.is_empty() { "none".to_owned() } else { registered.join(", ") };
                writeln!(
                    f,
                    "error: no projection named {name:?} is registered in this binary (registered: {registered})"
                )?;
                writeln!(f, "{REGISTER_HELP}")
            }
            CliError::Connect { uri, database, source } => {
                writeln!(f, "error: cannot connect to {uri} (database {database}): {source}")
            }
            CliError::Database { context, source } => writeln!(f, "error: {context}: {source}"),
            CliError::NotParked { name, event_id } => {
                writeln!(f, "error: event {event_id} is not parked by {name} (see `dead-letters list {name}`)")
            }
            CliError::Output(err) => writeln!(f, "error: cannot write the output: {err}"),
            CliError::Signal(err) => writeln!(f, "error: cannot listen for Ctrl-C: {err}"),
        }
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CliError::Connect { source, .. } | CliError::Database { source, .. } => Some(source.as_ref()),
            CliError::Output(err) | CliError::Signal(err) => Some(err),
            CliError::Spec(_)
            | CliError::Usage(_)
            | CliError::ProjectionNotRegistered { .. }
            | CliError::NotParked { .. } => None,
        }
    }
}

impl From<io::Error> for CliError {
    fn from(err: io::Error) -> Self {
        CliError::Output(err)
    }
}

impl From<SpecError> for CliError {
    fn from(err: SpecError) -> Self {
        CliError::Spec(vec![err])
    }
}

/// The URI with the password of its user information replaced by `***`, for messages.
pub(crate) fn redact_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else { return uri.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, hosts)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{hosts}{tail}"),
            None => uri.to_owned(),
        },
        None => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use cqrs_mongo_spec::{ErrorCode, PathSegment};

    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            redact_uri("mongodb://app:s3cr@t@db1,db2/?replicaSet=rs"),
            "mongodb://app:***@db1,db2/?replicaSet=rs"
        );
        assert_eq!(redact_uri("mongodb+srv://app@cluster/x"), "mongodb+srv://app@cluster/x");
        assert_eq!(redact_uri("mongodb://127.0.0.1:27017/?a=b@c"), "mongodb://127.0.0.1:27017/?a=b@c");
        assert_eq!(redact_uri("not a uri"), "not a uri");
    }

    #[test]
    fn spec_errors_show_code_path_and_message_and_exit_2() {
        let err = CliError::Spec(vec![SpecError::new(
            ErrorCode::InvalidValue,
            vec![PathSegment::Key("conditions".into()), PathSegment::Index(1), PathSegment::Key("val".into())],
            "bad",
        )]);
        assert_eq!(err.to_string(), "error: invalid_value at <root>.conditions[1].val: bad\n");
        assert_eq!(err.exit_status(), EXIT_USAGE);
        assert_eq!(CliError::Usage("x".into()).exit_status(), EXIT_USAGE);
        let unregistered = CliError::ProjectionNotRegistered { name: "b".into(), registered: Vec::new() };
        assert_eq!(unregistered.exit_status(), EXIT_USAGE);
        assert_eq!(CliError::Output(io::Error::other("x")).exit_status(), EXIT_FAILURE);
    }

    #[test]
    fn an_unregistered_projection_lists_the_registered_ones_and_says_how_to_register() {
        let none = CliError::ProjectionNotRegistered { name: "order_summaries".into(), registered: Vec::new() };
        let text = none.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "error: no projection named \"order_summaries\" is registered in this binary (registered: none)"
        );
        assert!(lines[1].starts_with("help: ") && lines[1].contains("cqrs_mongo_cli::run(cli, projections)"), "{text}");
        assert_eq!(lines.len(), 2);
        let some = CliError::ProjectionNotRegistered { name: "x".into(), registered: vec!["a".into(), "b".into()] };
        assert!(
            some.to_string()
                .starts_with("error: no projection named \"x\" is registered in this binary (registered: a, b)\n")
        );
    }
}
