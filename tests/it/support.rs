//! Test helpers: an app on the embedded seed in a temporary data directory, built the way
//! `main` builds it (`app::Application`), queried in-process (`TestApp`) or over a real
//! socket (`TestServer`).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kyrgyz_relations::app::{self, AppError, Application, Config, Opened, Options};
use kyrgyz_relations::executor::{Answer, CacheOutcome, Executor, ExecutorConfig};
use kyrgyz_relations::http::HttpConfig;
use kyrgyz_relations::schema::AppSchema;
use kyrgyz_relations::store::{Store, StoreError};
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// An app over its own temporary data directory.
pub struct TestApp {
    /// The schema with its hooks, validating strictly (`Executor::schema`).
    pub schema: AppSchema,
    /// What runs requests, with a response cache of the default size, as HTTP runs it.
    pub executor: Executor,
    pub store: Store,
    /// Keeps the data directory until the app is dropped.
    _data_dir: TempDir,
}

impl TestApp {
    /// Seeds a fresh data directory from the embedded seed.
    pub fn new() -> TestApp {
        TestApp::seeded(None)
    }

    /// Seeds a fresh data directory from the seed in `seed_dir` (the embedded one when
    /// `None`).
    pub fn seeded(seed_dir: Option<&Path>) -> TestApp {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut options = Options::new(data_dir.path());
        options.seed_dir = seed_dir.map(Path::to_owned);
        let opened = open(&options);
        let app = Application::over(
            opened.store,
            ExecutorConfig::default(),
            HttpConfig::default(),
        );
        TestApp {
            schema: app.executor().schema().clone(),
            executor: app.executor().clone(),
            store: app.store().clone(),
            _data_dir: data_dir,
        }
    }

    /// Runs a query in-process through the executor (and its response cache), as HTTP
    /// does, and returns the whole response (`data` and `errors`) as JSON.
    pub async fn execute(&self, query: &str) -> Value {
        execute(&self.executor, query).await.0
    }

    /// Runs a query in-process and returns `data`, failing the test on any error.
    pub async fn query(&self, query: &str) -> Value {
        let response = self.execute(query).await;
        assert!(
            response.get("errors").is_none(),
            "query failed: {response:#}"
        );
        response["data"].clone()
    }
}

/// Runs a query through `executor` and returns the whole response as JSON, with what the
/// response cache did for it.
pub async fn execute(executor: &Executor, query: &str) -> (Value, CacheOutcome) {
    let executed = executor
        .answer(async_graphql::Request::new(query))
        .await
        .expect("answers serialize");
    let response = match executed.answer {
        Answer::Body(body) => serde_json::from_slice(&body).expect("answers are JSON"),
        Answer::Errors(response) => serde_json::to_value(&response).expect("responses serialize"),
    };
    (response, executed.cache)
}

/// Runs a query through `executor` and returns the response as the bytes HTTP would send
/// (as text: the order of keys shows).
pub async fn execute_text(executor: &Executor, query: &str) -> String {
    let executed = executor
        .answer(async_graphql::Request::new(query))
        .await
        .expect("answers serialize");
    match executed.answer {
        Answer::Body(body) => String::from_utf8(body.to_vec()).expect("answers are UTF-8"),
        Answer::Errors(response) => serde_json::to_string(&response).expect("responses serialize"),
    }
}

/// An executor over `store` with the default configuration but for a response cache of
/// `cache_bytes` (0: none).
pub fn executor(store: &Store, cache_bytes: usize) -> Executor {
    Executor::new(
        store.clone(),
        ExecutorConfig {
            response_cache_bytes: cache_bytes,
            ..ExecutorConfig::default()
        },
    )
}

/// The application served on a real socket, in-process: `Application::run` on port 0 of
/// 127.0.0.1, over a temporary data directory (or a store the test opened).
pub struct TestServer {
    pub address: SocketAddr,
    /// The store the server reads.
    pub store: Store,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// What must outlive the server: its data directory.
    _keep: Box<dyn std::any::Any + Send>,
}

impl TestServer {
    /// The application with the default configuration, over the embedded seed.
    pub async fn spawn() -> TestServer {
        TestServer::spawn_with(|_| {}).await
    }

    /// The application with the configuration `configure` makes of the default one, over
    /// a fresh data directory.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::new(data_dir.path());
        configure(&mut config);
        let application = retry_locked(|| match Application::build(config.clone()) {
            Err(AppError::Store(StoreError::Locked { path })) => {
                Err(format!("{} is locked", path.display()))
            }
            Err(error) => panic!("cannot build the application: {error}"),
            Ok(application) => Ok(application),
        });
        TestServer::start(application, Box::new(data_dir)).await
    }

    /// The application over `store`, already open, with `executor` and `http` settings;
    /// `keep` lives as long as the server.
    pub async fn spawn_store(
        store: Store,
        executor: ExecutorConfig,
        http: HttpConfig,
        keep: Box<dyn std::any::Any + Send>,
    ) -> TestServer {
        TestServer::start(Application::over(store, executor, http), keep).await
    }

    async fn start(application: Application, keep: Box<dyn std::any::Any + Send>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let address = listener.local_addr().expect("address");
        let store = application.store().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(application.run(listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            address,
            store,
            stop: Some(stop),
            task,
            _keep: keep,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Stops the server, waiting for requests in flight and the store's flush.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .expect("joins")
            .expect("serves and flushes cleanly");
    }
}

/// Opens a store, failing the test with the error's message.
pub fn open(options: &Options) -> Opened {
    try_open(options).unwrap_or_else(|error| panic!("cannot open the store: {error}"))
}

/// Opens a store, waiting out only the lock of a store this process just dropped.
pub fn try_open(options: &Options) -> Result<Opened, AppError> {
    retry_locked(|| match app::open_store(options) {
        Err(AppError::Store(StoreError::Locked { path })) => {
            Err(format!("{} is locked", path.display()))
        }
        other => Ok(other),
    })
}

/// Copies the repository's seed files into a new temporary directory for a test to alter.
pub fn seed_copy() -> TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for name in kyrgyz_relations::seed::FILES {
        std::fs::copy(seed_dir().join(name), dir.path().join(name)).expect("seed files copy");
    }
    dir
}

pub fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seed")
}

/// Rewrites one JSON seed file through `change`.
pub fn edit_seed(dir: &Path, file: &str, change: impl FnOnce(&mut Value)) {
    let path = dir.join(file);
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("seed file reads"))
            .expect("seed file parses");
    change(&mut value);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&value).expect("serializes"),
    )
    .expect("seed file writes");
}

/// The record with `id` in a seed file's array.
pub fn record<'a>(records: &'a mut Value, id: &str) -> &'a mut Value {
    records
        .as_array_mut()
        .expect("seed files hold arrays")
        .iter_mut()
        .find(|record| record["id"] == id)
        .unwrap_or_else(|| panic!("no record `{id}` in the seed"))
}

/// Runs `attempt` until it stops failing on sled's directory lock, for up to ten seconds.
///
/// Within one process, sled releases a dropped store's lock only after its deferred
/// frees run, which other threads' pinned epochs can postpone; a real restart is a new
/// process and never waits.
pub fn retry_locked<T, E: std::fmt::Display>(attempt: impl Fn() -> Result<T, E>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match attempt() {
            Ok(value) => return value,
            Err(error)
                if error.to_string().contains("lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(error) => panic!("{error}"),
        }
    }
}

/// Opens the data directory with sled directly, to simulate crashes and damage.
pub fn raw_sled(path: &Path) -> sled::Db {
    retry_locked(|| sled::open(path))
}

/// Replaces (`Some`) or removes (`None`) the value under `key` in a packed tree, as damage
/// or a lost write would: the chunk holding it is read, edited and written back.
pub fn edit_packed(tree: &sled::Tree, key: &str, value: Option<&[u8]>) {
    use kyrgyz_relations::store::packed::{Chunk, Writer};
    let (chunk_key, bytes) = tree
        .range(..=key.as_bytes())
        .next_back()
        .expect("a chunk at or before the key")
        .expect("reads");
    let chunk = Chunk::decode(&chunk_key, bytes).expect("an intact chunk");
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = (0..chunk.len())
        .map(|index| (chunk.key(index).to_vec(), chunk.value(index).to_vec()))
        .collect();
    let position = entries
        .iter()
        .position(|(entry, _)| entry == key.as_bytes())
        .expect("the key is in its chunk");
    match value {
        Some(value) => entries[position].1 = value.to_vec(),
        None => {
            entries.remove(position);
        }
    }
    tree.remove(&chunk_key).expect("removes the chunk");
    let mut writer = Writer::new(tree);
    for (key, value) in &entries {
        writer.push(key, value).expect("in order");
    }
    writer.finish().expect("writes");
}

/// Runs `command` to completion with its output captured, killing it after `timeout`.
pub fn run_bounded(mut command: Command, timeout: Duration) -> Result<Output, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot start: {error}"))?;
    // Drain both pipes while waiting, so a chatty child never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|pipe| Box::new(pipe) as _));
    let stderr = drain(child.stderr.take().map(|pipe| Box::new(pipe) as _));
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status, false),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                break (child.wait().map_err(|error| error.to_string())?, true);
            }
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot be waited for: {error}"));
            }
        }
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    if timed_out {
        return Err(format!(
            "took longer than {timeout:?} and was killed:\n{}",
            shown(&output)
        ));
    }
    Ok(output)
}

/// A command's stdout and stderr, for a failure message.
pub fn shown(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout).trim_end(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    )
}

/// Runs `work` on tokio's blocking pool, passing its panic on unchanged.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => panic!("the blocking task did not finish: {error}"),
    }
}

/// A folder of pinned npm packages (`package.json` and `package-lock.json`) that a test
/// runs with Node.js.
pub struct NpmPackages<'a> {
    pub dir: &'a Path,
    /// The package whose installed version tells whether `npm ci` is needed.
    pub package: &'a str,
    /// The version the lock pins for it.
    pub version: &'a str,
    /// The oldest Node.js major version the packages run on.
    pub min_node: u32,
    /// Who needs them, for the failure messages: "the browser test", say.
    pub needed_by: &'a str,
}

const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

impl NpmPackages<'_> {
    /// Checks for Node.js and npm and installs the locked packages with `npm ci` unless
    /// `package` is already there at `version`. Fails saying what to install; never skips.
    pub fn prepare(&self) {
        let install = format!(
            "{} needs Node.js {}+ and npm on PATH; install them (e.g. from \
             https://nodejs.org; Debian 12's own nodejs package is 18).",
            self.needed_by, self.min_node
        );
        let version = tool_version("node", &install);
        let major = version
            .trim()
            .trim_start_matches('v')
            .split('.')
            .next()
            .and_then(|major| major.parse::<u32>().ok());
        assert!(
            major.is_some_and(|major| major >= self.min_node),
            "`node --version` says {version:?}. {install}"
        );
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        tool_version(npm, &install);

        if self.installed().as_deref() == Some(self.version) {
            return;
        }
        let mut ci = Command::new(npm);
        ci.current_dir(self.dir)
            .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]);
        let output = run_bounded(ci, NPM_CI_TIMEOUT)
            .unwrap_or_else(|problem| panic!("`npm ci` in {} {problem}", self.dir.display()));
        assert!(
            output.status.success(),
            "`npm ci --ignore-scripts` in {} failed ({}):\n{}",
            self.dir.display(),
            output.status,
            shown(&output)
        );
        assert_eq!(
            self.installed().as_deref(),
            Some(self.version),
            "`npm ci` did not install {} {}:\n{}",
            self.package,
            self.version,
            shown(&output)
        );
    }

    /// The installed version of `package`, if it is installed.
    fn installed(&self) -> Option<String> {
        let path = self
            .dir
            .join("node_modules")
            .join(self.package)
            .join("package.json");
        let manifest: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        Some(manifest["version"].as_str()?.to_owned())
    }
}

/// What `tool --version` prints; fails with `install` if `tool` is missing or fails.
fn tool_version(tool: &str, install: &str) -> String {
    match Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => {
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
        Ok(output) => panic!(
            "`{tool} --version` failed ({}):\n{}\n{install}",
            output.status,
            shown(&output)
        ),
        Err(error) => panic!("cannot run `{tool}`: {error}.\n{install}"),
    }
}

/// The real binary, for the tests that must run it as a process.
pub const BINARY: &str = env!("CARGO_BIN_EXE_kyrgyz-relations");

/// The command that serves the real binary on `127.0.0.1:0` over `data_dir`, its log on
/// a pipe: the one way the tests start the binary as a server (`Running`, and the crash
/// test, which kills it mid-import).
pub fn serve_command(data_dir: &Path, rust_log: &str) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", rust_log)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// The real binary on 127.0.0.1:0 with `args`, its address once it serves, and a thread
/// that collects its log.
pub struct Running {
    child: Child,
    pub address: String,
    log: std::thread::JoinHandle<String>,
    _data: tempfile::TempDir,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        Running::start_logging(args, "info")
    }

    /// The binary with `args`, logging what `rust_log` (`RUST_LOG`'s syntax) asks for.
    pub fn start_logging(args: &[&str], rust_log: &str) -> Running {
        let data = tempfile::tempdir().expect("a temporary directory");
        let mut child = serve_command(data.path(), rust_log)
            .args(args)
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (ready, address) = std::sync::mpsc::channel::<String>();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("serving GraphQL on http://").nth(1) {
                    let address = rest.split('/').next().unwrap_or_default().to_owned();
                    let _ = ready.send(address);
                }
                log.push_str(&line);
                log.push('\n');
            }
            log
        });
        let Ok(address) = address.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server never served:\n{}",
                log.join().unwrap_or_default()
            );
        };
        Running {
            child,
            address,
            log,
            _data: data,
        }
    }

    /// Stops the server with SIGTERM and returns its whole log.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
        let exit = self.child.wait().expect("the server exits");
        let log = self.log.join().expect("the log reader finishes");
        assert!(exit.success(), "the server exited with {exit}:\n{log}");
        log
    }
}
