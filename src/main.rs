//! The command line: `serve` (the default), `check`, `verify`, `generate` and `schema`.
//! The only user of anyhow.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use kyrgyz_relations::executor::{
    persisted, response_cache, ExecutorConfig, Limits, PersistedQueries,
};
use kyrgyz_relations::{app, http, logging, schema, seed, store};
use tracing_subscriber::EnvFilter;

/// See Cargo.toml: measured in BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off while the store opens (a first start imports the seed),
/// back on for serving. With them on, what the import frees inside a 2 MiB page stays
/// resident, so its peak RSS moved with the kernel's supply of huge pages: 481-511 MB for
/// a million incidents, 407-447 MB with them off (BENCHMARKS.md). Only what this
/// process turned off is turned back on; elsewhere than Linux, nothing.
struct HugePagesOff {
    turned_off: bool,
}

impl HugePagesOff {
    fn new() -> HugePagesOff {
        HugePagesOff {
            turned_off: huge_pages::allowed() && huge_pages::set_allowed(false),
        }
    }
}

impl Drop for HugePagesOff {
    fn drop(&mut self) {
        if self.turned_off {
            huge_pages::set_allowed(true);
        }
    }
}

#[cfg(target_os = "linux")]
mod huge_pages {
    /// Whether this process may be given transparent huge pages.
    pub fn allowed() -> bool {
        // SAFETY: PR_GET_THP_DISABLE reads a flag of the process; no memory is passed.
        unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) == 0 }
    }

    /// Allows or forbids them; whether the kernel took it.
    pub fn set_allowed(allowed: bool) -> bool {
        let disable = libc::c_ulong::from(!allowed);
        // SAFETY: PR_SET_THP_DISABLE sets a flag of the process from plain integers.
        unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, disable, 0, 0, 0) == 0 }
    }
}

#[cfg(not(target_os = "linux"))]
mod huge_pages {
    pub fn allowed() -> bool {
        false
    }

    pub fn set_allowed(_allowed: bool) -> bool {
        false
    }
}

/// A GraphQL API over a curated knowledge base of Kyrgyzstan's foreign relations.
#[derive(Parser)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
    /// How log lines are written to stderr: `text` for people, `json` (one object a line,
    /// with the request id and the other span fields) for log collectors.
    #[arg(
        long,
        global = true,
        env = "KYRGYZ_RELATIONS_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default): GraphQL at /graphql, GraphiQL at /, health at /health.
    Serve(Box<ServeArgs>),
    /// Validate a seed and list every problem in it; exits non-zero if there are any.
    Check(CheckArgs),
    /// Print the schema in GraphQL SDL (the contents of schema.graphql).
    Schema,
    /// Write a synthetic seed of any size into an empty directory, for benchmarks and scale
    /// tests: the same files for the same scale and seed number.
    Generate(GenerateArgs),
    /// Check a store offline: every value decodes, every index entry points at a record and
    /// back, every count matches the manifest. Exits non-zero on any problem.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct GenerateArgs {
    /// How many incidents; the other kinds scale with it (a tenth as many agreements, a
    /// fifth as many facilities, 12 to 250 countries).
    #[arg(long)]
    incidents: u64,
    /// Picks the pseudo-random sequence; the same number gives the same files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The directory to write the seed files into (the six files of records and
    /// `documents.json`); created if missing.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct VerifyArgs {
    /// The directory of the sled store to check.
    #[arg(long, env = "KYRGYZ_RELATIONS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

#[derive(Args, Clone)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(
        long,
        env = "KYRGYZ_RELATIONS_LISTEN",
        default_value = "127.0.0.1:8000"
    )]
    listen: SocketAddr,
    /// The directory of the sled store; created and seeded at first start.
    #[arg(long, env = "KYRGYZ_RELATIONS_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// A directory of seed JSON files to use instead of the seed built into the binary.
    #[arg(long, env = "KYRGYZ_RELATIONS_SEED_DIR")]
    seed_dir: Option<PathBuf>,
    /// Replace the store's contents with the seed, even if the store holds another seed
    /// or storage format.
    #[arg(long, env = "KYRGYZ_RELATIONS_RESEED")]
    reseed: bool,
    /// sled's page cache size, in MiB.
    #[arg(long, env = "KYRGYZ_RELATIONS_CACHE_MIB", default_value_t = store::DEFAULT_CACHE_BYTES / (1024 * 1024))]
    cache_mib: u64,
    /// Memory for decoded records and short lists kept between queries, in MiB; least
    /// recently used first out, and never served once the store has changed. 0 turns it
    /// off: every read goes to sled and is decoded.
    #[arg(long, env = "KYRGYZ_RELATIONS_READ_CACHE_MIB", default_value_t = store::DEFAULT_READ_CACHE_BYTES / (1024 * 1024))]
    read_cache_mib: usize,
    /// Largest request body accepted, in KiB.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_BODY_KIB", default_value_t = http::HttpLimits::default().max_body_bytes / 1024)]
    max_body_kib: usize,
    /// Seconds a client may take to send its request headers.
    #[arg(long, env = "KYRGYZ_RELATIONS_HEADER_TIMEOUT_SECS", default_value_t = http::HttpLimits::default().header_read_timeout.as_secs())]
    header_timeout_secs: u64,
    /// Seconds a request may take before it is stopped with a 503.
    #[arg(long, env = "KYRGYZ_RELATIONS_REQUEST_TIMEOUT_SECS", default_value_t = http::HttpLimits::default().request_timeout.as_secs())]
    request_timeout_secs: u64,
    /// An origin (scheme://host[:port]) whose web pages may call the API (CORS). Repeat the
    /// flag for more; the environment variable takes a comma-separated list. Without any,
    /// browsers let only pages of the API's own origin read its answers.
    #[arg(
        long = "cors-origin",
        value_name = "ORIGIN",
        env = "KYRGYZ_RELATIONS_CORS_ORIGINS",
        value_delimiter = ','
    )]
    cors_origins: Vec<http::CorsOrigin>,
    /// Turn GraphiQL off: `/` answers 404, and `GET /graphql` without a query is a 400 for
    /// browsers too. The environment variable takes `true` (the IDE is on) or `false`.
    #[arg(long = "no-graphiql", env = "KYRGYZ_RELATIONS_GRAPHIQL", action = ArgAction::SetFalse)]
    graphiql: bool,
    /// Seconds browsers and shared caches may reuse a successful `GET /graphql` answer
    /// (`Cache-Control: public, max-age`); they revalidate with its `ETag` after that.
    #[arg(long, env = "KYRGYZ_RELATIONS_CACHE_MAX_AGE_SECS", default_value_t = http::HttpConfig::default().cache_max_age.as_secs())]
    cache_max_age_secs: u64,
    /// Memory for automatic persisted queries, in KiB of query text; the least recently
    /// used queries are forgotten first.
    #[arg(long, env = "KYRGYZ_RELATIONS_APQ_CACHE_KIB", default_value_t = persisted::DEFAULT_CACHE_BYTES / 1024)]
    apq_cache_kib: usize,
    /// Memory for the response cache, in MiB: the answers of successful queries, served
    /// again without executing until the store changes; least recently used answers are
    /// forgotten first. 0 turns the cache off.
    #[arg(long, env = "KYRGYZ_RELATIONS_RESPONSE_CACHE_MIB", default_value_t = response_cache::DEFAULT_CACHE_BYTES / (1024 * 1024))]
    response_cache_mib: usize,
    /// Answer every query with async-graphql, never with a compiled plan (the answers are
    /// the same bytes; plans are faster): for comparing the two.
    #[arg(long, env = "KYRGYZ_RELATIONS_NO_COMPILED_PLANS")]
    no_compiled_plans: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Bounds on queries; see SECURITY.md for why each exists.
#[derive(Args, Clone)]
struct LimitArgs {
    /// Longest query text accepted, in bytes.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_QUERY_BYTES", default_value_t = Limits::default().max_query_bytes)]
    max_query_bytes: usize,
    /// Deepest nesting of brackets in a query, and of lists and objects in variables.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_DEPTH", default_value_t = Limits::default().max_depth)]
    max_depth: usize,
    /// Most fields a query may expand to once fragments are inlined.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_FIELDS", default_value_t = Limits::default().max_fields)]
    max_fields: u64,
    /// Most records a query may return, page sizes multiplied down nested lists.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_NODES", default_value_t = Limits::default().max_nodes)]
    max_nodes: u64,
    /// Most aliased fields in a query.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_ALIASES", default_value_t = Limits::default().max_aliases)]
    max_aliases: usize,
    /// Most directives in a query.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_DIRECTIVES", default_value_t = Limits::default().max_directives)]
    max_directives: usize,
    /// Most operations in one document.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_OPERATIONS", default_value_t = Limits::default().max_operations)]
    max_operations: usize,
    /// Most fragment definitions in one document.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_FRAGMENTS", default_value_t = Limits::default().max_fragments)]
    max_fragments: usize,
    /// Most items in one list argument or list variable.
    #[arg(long, env = "KYRGYZ_RELATIONS_MAX_LIST_ITEMS", default_value_t = Limits::default().max_list_items)]
    max_list_items: usize,
}

impl From<LimitArgs> for Limits {
    fn from(args: LimitArgs) -> Limits {
        Limits {
            max_query_bytes: args.max_query_bytes,
            max_depth: args.max_depth,
            max_fields: args.max_fields,
            max_nodes: args.max_nodes,
            max_aliases: args.max_aliases,
            max_directives: args.max_directives,
            max_operations: args.max_operations,
            max_fragments: args.max_fragments,
            max_list_items: args.max_list_items,
        }
    }
}

#[derive(Args)]
struct CheckArgs {
    /// A directory of seed JSON files; the seed built into the binary when omitted.
    #[arg(long, env = "KYRGYZ_RELATIONS_SEED_DIR")]
    seed_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_writer = init_logging(cli.log_format);
    let result = match cli.command {
        None => serve(cli.serve),
        Some(Command::Serve(args)) => serve(*args),
        Some(Command::Check(args)) => check(args),
        Some(Command::Verify(args)) => verify(args),
        Some(Command::Generate(args)) => generate(args),
        Some(Command::Schema) => {
            print!("{}", schema::sdl());
            Ok(ExitCode::SUCCESS)
        }
    };
    // The lines still batched are written first, so an error below is the last line.
    drop(log_writer);
    result.unwrap_or_else(|error| {
        eprintln!("error: {}", describe(&error));
        ExitCode::FAILURE
    })
}

/// Logs to stderr at the level `RUST_LOG` sets (default `info`). Lines written while a
/// request is served carry its span's fields, the request id among them: after the span
/// name in text, in `span` and `spans` in JSON. A thread of its own writes them in
/// batches (`logging`): a request never waits for stderr, and a line there is no room
/// for is dropped and counted in `/metrics`.
fn init_logging(format: LogFormat) -> logging::Guard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = logging::non_blocking(std::io::stderr(), logging::BATCH_BYTES);
    writer.install();
    // Colours only for a person at a terminal, never in a file or a log collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init(),
    }
    guard
}

/// The error and its causes on one line. Our errors often repeat their cause in their
/// own message (so a log line of one error is complete); a cause already said is skipped.
fn describe(error: &anyhow::Error) -> String {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    message
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let source = match &args.seed_dir {
        Some(dir) => seed::SeedSource::from_dir(dir)?,
        None => seed::SeedSource::embedded(),
    };
    // Streamed: counts are all `check` keeps, so a seed of any size checks in little memory.
    let mut counts = [0usize; 6];
    let result = source.read(|record| {
        let kind = match record {
            seed::SeedRecord::Country(_) => 0,
            seed::SeedRecord::Organization(_) => 1,
            seed::SeedRecord::Person(_) => 2,
            seed::SeedRecord::Agreement(_) => 3,
            seed::SeedRecord::Facility(_) => 4,
            seed::SeedRecord::Incident(_) => 5,
        };
        counts[kind] += 1;
    });
    match result {
        Ok(hash) => {
            let [countries, organizations, people, agreements, facilities, incidents] = counts;
            println!(
                "seed {} is valid: {countries} countries, {organizations} organizations, {people} people, {agreements} agreements, {facilities} facilities, {incidents} incidents (hash {hash})",
                source.origin(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let scale = kyrgyz_relations::generate::Scale::for_incidents(args.incidents);
    let started = std::time::Instant::now();
    kyrgyz_relations::generate::generate(&args.out, &scale, args.seed)?;
    println!(
        "wrote {} records to {} in {:.1} s: {scale:?}",
        scale.records(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.data_dir.is_dir(),
        "{} is not a directory holding a store",
        args.data_dir.display()
    );
    let store = store::Store::open(&args.data_dir, store::DEFAULT_CACHE_BYTES)?;
    let problems = store.verify()?;
    if problems.is_empty() {
        let records = store.total_records()?;
        println!(
            "store {} is sound: {records} records, every index entry checked",
            args.data_dir.display()
        );
        // The size of the data itself, which bench/perf compares with the files on disk.
        let size = store.logical_size()?;
        println!(
            "logical size: {} bytes in {} entries ({} bytes of keys, {} of values)",
            size.key_bytes + size.value_bytes,
            size.entries,
            size.key_bytes,
            size.value_bytes
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "store {} has {} problem(s):",
            args.data_dir.display(),
            problems.len()
        );
        for problem in &problems {
            eprintln!("  {problem}");
        }
        Ok(ExitCode::FAILURE)
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let graphiql = args.graphiql;
    let listen = args.listen;
    let config = app::Config {
        store: app::Options {
            data_dir: args.data_dir,
            seed_dir: args.seed_dir,
            reseed: args.reseed,
            cache_bytes: args.cache_mib.saturating_mul(1024 * 1024),
            read_cache_bytes: args.read_cache_mib.saturating_mul(1024 * 1024),
        },
        executor: ExecutorConfig {
            limits: args.limits.into(),
            response_cache_bytes: args.response_cache_mib.saturating_mul(1024 * 1024),
            persisted_queries: PersistedQueries::new(args.apq_cache_kib.saturating_mul(1024)),
            compiled_plans: !args.no_compiled_plans,
        },
        http: http::HttpConfig {
            limits: http::HttpLimits {
                max_body_bytes: args.max_body_kib.saturating_mul(1024),
                header_read_timeout: std::time::Duration::from_secs(args.header_timeout_secs),
                request_timeout: std::time::Duration::from_secs(args.request_timeout_secs),
            },
            cors_origins: args.cors_origins,
            graphiql,
            cache_max_age: std::time::Duration::from_secs(args.cache_max_age_secs),
        },
    };
    let application = {
        let _off = HugePagesOff::new();
        app::Application::build(config)?
    };
    let seed_hash = application.seed_hash.as_deref().unwrap_or_default();
    match &application.imported {
        Some(summary) => tracing::info!(
            records = summary.records,
            index_entries = summary.index_entries,
            seed_hash = %seed_hash,
            "seeded the store"
        ),
        None => tracing::info!(seed_hash = %seed_hash, "opened the seeded store"),
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let shutdown =
            http::shutdown_signal().context("cannot install the SIGINT and SIGTERM handlers")?;
        if graphiql {
            tracing::info!(
                "serving GraphQL on http://{address}/graphql, GraphiQL on http://{address}/"
            );
        } else {
            tracing::info!("serving GraphQL on http://{address}/graphql (GraphiQL is off)");
        }
        application
            .run(listener, shutdown)
            .await
            .context("server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}
