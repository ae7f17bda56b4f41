//! The command line: global connection options and the subcommands, parsed by `clap`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The URI used when neither `--uri` nor `MONGODB_URI` is given.
pub const DEFAULT_URI: &str = "mongodb://127.0.0.1:27017/?directConnection=true";

/// The database used when neither `--database` nor `CQRS_MONGO_DATABASE` is given.
pub const DEFAULT_DATABASE: &str = "app";

/// `cqrs-mongo`: the command-line tool of the CQRS/DDD MongoDB persistence toolkit.
#[derive(Debug, Clone, Parser)]
#[command(name = "cqrs-mongo", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// MongoDB connection string.
    #[arg(long, global = true, env = "MONGODB_URI", hide_env_values = true, default_value = DEFAULT_URI)]
    pub uri: String,

    /// Database name.
    #[arg(long, global = true, env = "CQRS_MONGO_DATABASE", default_value = DEFAULT_DATABASE)]
    pub database: String,

    /// How long to wait for the server before giving up, in seconds.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Compile a specification (JSON) into a MongoDB filter or query; needs no database.
    Compile(CompileArgs),
    /// Turn a MongoDB filter (Extended JSON) back into a specification; needs no database.
    Decompile(DecompileArgs),
    /// Index management.
    #[command(subcommand)]
    Indexes(IndexesCommand),
    /// Read the event store.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Projection checkpoints and rebuilds.
    #[command(subcommand)]
    Projections(ProjectionsCommand),
    /// The transactional outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// The background job queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Events parked by projections and subscriptions after their last attempt.
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
}

/// `dead-letters ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum DeadLettersCommand {
    /// Parked events, in position order: all, or one projection's or subscription's.
    List(DeadLettersListArgs),
    /// Project a parked event again through its registered projection (applied as if it had
    /// never failed); subscriptions retry from the application (`Subscription::retry_parked`).
    Retry(DeadLetterArgs),
    /// Mark a parked event skipped (kept for the record, never applied).
    Skip(DeadLetterArgs),
}

/// `dead-letters list [NAME] [--limit N]`.
#[derive(Debug, Clone, Args)]
pub struct DeadLettersListArgs {
    /// Only this projection's or subscription's.
    pub name: Option<String>,

    /// At most this many.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
}

/// `dead-letters retry|skip NAME EVENT_ID`.
#[derive(Debug, Clone, Args)]
pub struct DeadLetterArgs {
    /// The projection or subscription that parked it.
    pub name: String,
    /// The event's id.
    pub event_id: String,
}

/// `compile [FILE] [--options FILE_OR_JSON] [--canonical] [--query]`.
#[derive(Debug, Clone, Args)]
pub struct CompileArgs {
    /// The specification file; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Query options (legacy `QueryOptions` JSON): a file, or JSON text starting with `{`.
    #[arg(long, value_name = "FILE_OR_JSON")]
    pub options: Option<String>,

    /// Print canonical Extended JSON on one line instead of indented relaxed Extended JSON.
    #[arg(long)]
    pub canonical: bool,

    /// Print the whole compiled query (filter, sort, skip, limit, projection, pipeline)
    /// instead of the filter alone.
    #[arg(long)]
    pub query: bool,
}

/// `decompile [FILE] [--compact]`.
#[derive(Debug, Clone, Args)]
pub struct DecompileArgs {
    /// The filter file (Extended JSON, canonical or relaxed); `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Print the specification on one line instead of indented.
    #[arg(long)]
    pub compact: bool,
}

/// `indexes ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum IndexesCommand {
    /// Create the missing indexes of every built-in store and registered projection.
    Ensure,
}

/// `events ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum EventsCommand {
    /// Print events in position order, one per line:
    /// position, stream id, version, type and payload (compact JSON), separated by tabs.
    Tail(TailArgs),
}

/// `events tail [--after N] [--limit N] [--follow]`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Start after this global position.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(i64).range(0..))]
    pub after: i64,

    /// Stop after printing this many events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,

    /// Keep polling for new events (every 500 ms) until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
}

/// `projections ...`. Only the projections the binary registers can be named: the generic
/// `cqrs-mongo` registers none.
#[derive(Debug, Clone, Subcommand)]
pub enum ProjectionsCommand {
    /// Saved position, head position and lag of every registered projection and every
    /// checkpoint found (or of one registered projection).
    Status(StatusArgs),
    /// Replay every event into fresh collections and swap them in.
    Rebuild(RebuildArgs),
    /// Keep a registered projection up to date until Ctrl-C or SIGTERM, as one of any number
    /// of replicas (the lease holder applies, the others stand by).
    Run(RunArgs),
}

/// `projections run NAME [--lease SECONDS] [--replica NAME]`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The registered projection's name.
    pub name: String,

    /// The leader's lease, in seconds: a stand-by takes over within about this long after the
    /// leader dies (at once after a clean stop).
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub lease: u64,

    /// This replica's name in the lease (default: host, process id, random suffix).
    #[arg(long, value_name = "NAME")]
    pub replica: Option<String>,
}

/// `projections status [NAME]`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Show only this registered projection.
    pub name: Option<String>,
}

/// `projections rebuild NAME`.
#[derive(Debug, Clone, Args)]
pub struct RebuildArgs {
    /// The registered projection's name.
    pub name: String,
}

/// `outbox ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum OutboxCommand {
    /// Message counts by status.
    Stats,
    /// Put dead (`failed`) messages back to pending with a fresh attempt budget.
    RetryDead,
}

/// `jobs ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum JobsCommand {
    /// Job counts by status.
    Stats,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_may_follow_the_subcommand() {
        let cli = Cli::try_parse_from(["cqrs-mongo", "outbox", "stats", "--database", "shop", "--uri", "mongodb://h"])
            .unwrap();
        assert_eq!((cli.database.as_str(), cli.uri.as_str()), ("shop", "mongodb://h"));
        assert!(matches!(cli.command, Command::Outbox(OutboxCommand::Stats)));
    }

    #[test]
    fn tail_rejects_a_zero_limit() {
        assert!(Cli::try_parse_from(["cqrs-mongo", "events", "tail", "--limit", "0"]).is_err());
        let cli = Cli::try_parse_from(["cqrs-mongo", "events", "tail", "--after", "3", "-f"]).unwrap();
        let Command::Events(EventsCommand::Tail(tail)) = cli.command else { panic!("not tail") };
        assert_eq!((tail.after, tail.limit, tail.follow), (3, None, true));
    }
}
