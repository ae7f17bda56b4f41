//! The binary's settings, from its environment (an unset or empty variable takes its default):
//!
//! | variable | default | |
//! |---|---|---|
//! | `MONGODB_URI` | (required) | the deployment |
//! | `DATABASE` | `orders_service` | the database |
//! | `PORT` | `8080` | the port on 127.0.0.1 (`0`: any free one) |
//! | `WEB_ROOT` | `service/web` | the page's folder |
//! | `PKG_ROOT` | `bindings-wasm` | the npm package's folder |
//! | `DB_TIMEOUT` | `5` | seconds to wait for a server, and to retry a unit of work |
//! | `HEADER_READ_TIMEOUT` | `10` | seconds for a request's headers |
//! | `BODY_TIMEOUT` | `10` | seconds for a request's body (408 beyond) |
//! | `REQUEST_TIMEOUT` | `30` | seconds for a handler's answer (503 beyond) |
//! | `MAX_CONNECTIONS` | `512` | connections served at once (503 beyond) |
//! | `SHUTDOWN_GRACE` | `10` | seconds in-flight requests may go on after a stop, and again for the background loops |
//! | `POSITIONS` | `reserved` | how orders' events take their positions: `reserved` (outside the transaction: concurrent orders do not meet on the counter) or `in_transaction` (commit order, for readers that are not gap-aware) |
//!
//! Durations are seconds, fractions allowed (`0.5`), more than zero.

use std::path::PathBuf;
use std::time::Duration;

use cqrs_mongo_persistence::event_store::PositionAllocation;

use crate::serve::Limits;

/// Everything the binary reads from its environment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// `MONGODB_URI`.
    pub uri: String,
    /// `DATABASE`.
    pub database: String,
    /// `PORT`.
    pub port: u16,
    /// `WEB_ROOT`.
    pub web: PathBuf,
    /// `PKG_ROOT`.
    pub pkg: PathBuf,
    /// `DB_TIMEOUT`: the driver's server selection timeout and the units of work's retry
    /// deadline, so a request that needs an unreachable database is a 503 within about this.
    pub db_timeout: Duration,
    /// The server's bounds.
    pub limits: Limits,
    /// `POSITIONS`.
    pub positions: PositionAllocation,
}

impl Settings {
    /// The settings from the process's environment.
    ///
    /// # Errors
    ///
    /// A message naming the variable that is missing or does not parse.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from `lookup` (a variable's value, if set).
    ///
    /// # Errors
    ///
    /// As [`Settings::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        let var = |name: &str| lookup(name).filter(|value| !value.is_empty());
        let defaults = Limits::default();
        let seconds = |name: &str, default: Duration| var(name).map_or(Ok(default), |text| parse_seconds(name, &text));
        let uri = var("MONGODB_URI").ok_or("set MONGODB_URI (scripts/service.sh starts a server and sets it)")?;
        let port = var("PORT").map_or(Ok(8080), |text| text.parse().map_err(|_| "PORT must be a port number"))?;
        let max_connections = match var("MAX_CONNECTIONS") {
            None => defaults.max_connections,
            Some(text) => text.parse().ok().filter(|n| *n > 0).ok_or("MAX_CONNECTIONS must be a positive number")?,
        };
        let positions = match var("POSITIONS").as_deref() {
            None | Some("reserved") => PositionAllocation::Reserved,
            Some("in_transaction") => PositionAllocation::InTransaction,
            Some(other) => return Err(format!("POSITIONS must be reserved or in_transaction, got {other:?}")),
        };
        Ok(Settings {
            uri,
            positions,
            database: var("DATABASE").unwrap_or_else(|| "orders_service".into()),
            port,
            web: PathBuf::from(var("WEB_ROOT").unwrap_or_else(|| "service/web".into())),
            pkg: PathBuf::from(var("PKG_ROOT").unwrap_or_else(|| "bindings-wasm".into())),
            db_timeout: seconds("DB_TIMEOUT", Duration::from_secs(5))?,
            limits: Limits {
                header_read: seconds("HEADER_READ_TIMEOUT", defaults.header_read)?,
                body: seconds("BODY_TIMEOUT", defaults.body)?,
                request: seconds("REQUEST_TIMEOUT", defaults.request)?,
                max_connections,
                shutdown_grace: seconds("SHUTDOWN_GRACE", defaults.shutdown_grace)?,
            },
        })
    }
}

/// A positive number of seconds, fractions allowed.
fn parse_seconds(name: &str, text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds <= 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{name} must be a number of seconds above 0, got {text:?}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, String> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn unset_and_empty_variables_take_the_defaults() {
        let settings = settings(&[("MONGODB_URI", "mongodb://db"), ("PORT", "")]).unwrap();
        assert_eq!((settings.port, settings.database.as_str()), (8080, "orders_service"));
        assert_eq!(settings.db_timeout, Duration::from_secs(5));
        assert_eq!(settings.limits, Limits::default());
        assert_eq!(settings.positions, PositionAllocation::Reserved);
    }

    #[test]
    fn durations_are_seconds_with_fractions() {
        let settings = settings(&[("MONGODB_URI", "x"), ("BODY_TIMEOUT", "0.5"), ("MAX_CONNECTIONS", "3")]).unwrap();
        assert_eq!((settings.limits.body, settings.limits.max_connections), (Duration::from_millis(500), 3));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        assert!(settings(&[]).unwrap_err().contains("MONGODB_URI"));
        for (name, value) in [
            ("DB_TIMEOUT", "0"),
            ("SHUTDOWN_GRACE", "-1"),
            ("REQUEST_TIMEOUT", "soon"),
            ("MAX_CONNECTIONS", "0"),
            ("POSITIONS", "any"),
        ] {
            let err = settings(&[("MONGODB_URI", "x"), (name, value)]).unwrap_err();
            assert!(err.contains(name), "{name}={value}: {err}");
        }
    }
}
