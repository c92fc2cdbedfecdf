//! Prometheus metrics: request counters, a latency histogram, GraphQL error, persisted
//! query and response cache counters, kept in atomics and rendered in the text exposition
//! format (0.0.4).
//!
//! Knows nothing of HTTP or GraphQL libraries: `http` records into it and serves it at
//! `/metrics`. Every label value comes from a fixed list given at construction, so the
//! number of series is bounded whatever clients send.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the latency buckets, in microseconds: 1 ms to 10 s. Most answers take a
/// few milliseconds; 10 s is the default request timeout.
const BUCKETS_MICROS: [u64; 13] = [
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// The label of a route or error code outside the lists given to `Metrics::new`.
pub const OTHER: &str = "other";

/// The label of a GraphQL error without `extensions.code` (parse and validation errors).
pub const NO_CODE: &str = "none";

/// Status codes from 100 to 599, one counter each.
const STATUSES: std::ops::RangeInclusive<u16> = 100..=599;

/// What a request's persisted query extension came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistedQuery {
    /// The hash was known and its query ran.
    Hit,
    /// The hash was unknown; the client is told to send the query.
    Miss,
    /// A query and its hash were stored.
    Registered,
}

/// What a request's response cache lookup came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseCacheLookup {
    /// The answer was served from the cache.
    Hit,
    /// The answer was computed (and stored, if it could be).
    Miss,
}

/// What the response cache holds when `/metrics` is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ResponseCacheSize {
    pub entries: u64,
    pub bytes: u64,
}

/// What the store's read cache holds, and its lookups so far, when `/metrics` is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadCacheSize {
    pub entries: u64,
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
}

/// The server's metrics. One per router; `http` shares it between the request middleware
/// and the `/metrics` handler.
pub struct Metrics {
    /// Route templates, then `OTHER`.
    routes: Vec<&'static str>,
    requests: Vec<RouteMetrics>,
    /// Error codes, then `OTHER`, then `NO_CODE`.
    error_codes: Vec<&'static str>,
    errors: Vec<AtomicU64>,
    apq_hits: AtomicU64,
    apq_misses: AtomicU64,
    apq_registrations: AtomicU64,
    response_cache_hits: AtomicU64,
    response_cache_misses: AtomicU64,
}

struct RouteMetrics {
    /// Responses by status code, indexed from 100.
    by_status: Vec<AtomicU64>,
    /// Observations per bucket (not cumulative; `render` adds them up).
    buckets: [AtomicU64; BUCKETS_MICROS.len()],
    /// Observations above the last bucket.
    overflow: AtomicU64,
    sum_micros: AtomicU64,
}

impl RouteMetrics {
    fn new() -> RouteMetrics {
        RouteMetrics {
            by_status: STATUSES.map(|_| AtomicU64::new(0)).collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            overflow: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn count(&self) -> u64 {
        self.buckets
            .iter()
            .chain([&self.overflow])
            .map(|bucket| bucket.load(Ordering::Relaxed))
            .sum()
    }
}

impl Metrics {
    /// Metrics labelled with `routes` (route templates) and GraphQL error `codes`; anything
    /// else is counted under `OTHER`.
    pub fn new(routes: &[&'static str], codes: &[&'static str]) -> Metrics {
        let routes: Vec<&'static str> = routes.iter().copied().chain([OTHER]).collect();
        let error_codes: Vec<&'static str> =
            codes.iter().copied().chain([OTHER, NO_CODE]).collect();
        Metrics {
            requests: routes.iter().map(|_| RouteMetrics::new()).collect(),
            routes,
            errors: error_codes.iter().map(|_| AtomicU64::new(0)).collect(),
            error_codes,
            apq_hits: AtomicU64::new(0),
            apq_misses: AtomicU64::new(0),
            apq_registrations: AtomicU64::new(0),
            response_cache_hits: AtomicU64::new(0),
            response_cache_misses: AtomicU64::new(0),
        }
    }

    /// Counts one answered request: its route template (`None` for a path no route
    /// matched), status code and time taken.
    pub fn record_request(&self, route: Option<&str>, status: u16, elapsed: Duration) {
        let index = route
            .and_then(|route| self.routes.iter().position(|known| *known == route))
            .unwrap_or(self.routes.len() - 1);
        let metrics = &self.requests[index];
        if STATUSES.contains(&status) {
            metrics.by_status[usize::from(status - STATUSES.start())]
                .fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let bucket = BUCKETS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
            .map_or(&metrics.overflow, |index| &metrics.buckets[index]);
        bucket.fetch_add(1, Ordering::Relaxed);
        metrics.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts one GraphQL error by its `extensions.code`.
    pub fn record_graphql_error(&self, code: Option<&str>) {
        let index = match code {
            None => self.error_codes.len() - 1,
            Some(code) => self.error_codes[..self.error_codes.len() - 2]
                .iter()
                .position(|known| *known == code)
                .unwrap_or(self.error_codes.len() - 2),
        };
        self.errors[index].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts what one persisted query extension came to.
    pub fn record_persisted_query(&self, outcome: PersistedQuery) {
        let counter = match outcome {
            PersistedQuery::Hit => &self.apq_hits,
            PersistedQuery::Miss => &self.apq_misses,
            PersistedQuery::Registered => &self.apq_registrations,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one response cache lookup. Requests the cache is off for, or that cannot be
    /// cached, are neither.
    pub fn record_response_cache(&self, lookup: ResponseCacheLookup) {
        let counter = match lookup {
            ResponseCacheLookup::Hit => &self.response_cache_hits,
            ResponseCacheLookup::Miss => &self.response_cache_misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Every metric in the text exposition format, with what the response cache and the
    /// store's read cache hold now. Series that never counted anything are left out,
    /// except the persisted query and cache series.
    pub fn render(&self, response_cache: ResponseCacheSize, read_cache: ReadCacheSize) -> String {
        let mut out = String::new();
        self.render_into(&mut out, response_cache, read_cache)
            .expect("writing to a String cannot fail");
        out
    }

    fn render_into(
        &self,
        out: &mut String,
        response_cache: ResponseCacheSize,
        read_cache: ReadCacheSize,
    ) -> std::fmt::Result {
        const REQUESTS: &str = "kyrgyz_relations_http_requests_total";
        writeln!(
            out,
            "# HELP {REQUESTS} HTTP requests answered, by route template and status code."
        )?;
        writeln!(out, "# TYPE {REQUESTS} counter")?;
        for (route, metrics) in self.routes.iter().zip(&self.requests) {
            for (status, count) in STATUSES.zip(&metrics.by_status) {
                let count = count.load(Ordering::Relaxed);
                if count > 0 {
                    writeln!(
                        out,
                        "{REQUESTS}{{route=\"{route}\",status=\"{status}\"}} {count}"
                    )?;
                }
            }
        }

        const DURATION: &str = "kyrgyz_relations_http_request_duration_seconds";
        writeln!(
            out,
            "# HELP {DURATION} Time from request received to response headers, by route template."
        )?;
        writeln!(out, "# TYPE {DURATION} histogram")?;
        for (route, metrics) in self.routes.iter().zip(&self.requests) {
            let count = metrics.count();
            if count == 0 {
                continue;
            }
            let mut cumulative = 0;
            for (bound, bucket) in BUCKETS_MICROS.iter().zip(&metrics.buckets) {
                cumulative += bucket.load(Ordering::Relaxed);
                let le = *bound as f64 / 1e6;
                writeln!(
                    out,
                    "{DURATION}_bucket{{route=\"{route}\",le=\"{le}\"}} {cumulative}"
                )?;
            }
            writeln!(
                out,
                "{DURATION}_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            )?;
            let sum = metrics.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            writeln!(out, "{DURATION}_sum{{route=\"{route}\"}} {sum}")?;
            writeln!(out, "{DURATION}_count{{route=\"{route}\"}} {count}")?;
        }

        const ERRORS: &str = "kyrgyz_relations_graphql_errors_total";
        writeln!(out, "# HELP {ERRORS} Errors in GraphQL responses, by extensions.code (\"none\" when absent).")?;
        writeln!(out, "# TYPE {ERRORS} counter")?;
        for (code, count) in self.error_codes.iter().zip(&self.errors) {
            let count = count.load(Ordering::Relaxed);
            if count > 0 {
                writeln!(out, "{ERRORS}{{code=\"{code}\"}} {count}")?;
            }
        }

        for (name, help, counter) in [
            (
                "kyrgyz_relations_apq_hits_total",
                "Persisted query hashes found in the cache.",
                &self.apq_hits,
            ),
            (
                "kyrgyz_relations_apq_misses_total",
                "Persisted query hashes not in the cache (answered PersistedQueryNotFound).",
                &self.apq_misses,
            ),
            (
                "kyrgyz_relations_apq_registrations_total",
                "Queries stored in the persisted query cache.",
                &self.apq_registrations,
            ),
        ] {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} counter")?;
            writeln!(out, "{name} {}", counter.load(Ordering::Relaxed))?;
        }

        for (name, kind, help, value) in [
            (
                "kyrgyz_relations_response_cache_hits_total",
                "counter",
                "GraphQL requests answered from the response cache.",
                self.response_cache_hits.load(Ordering::Relaxed),
            ),
            (
                "kyrgyz_relations_response_cache_misses_total",
                "counter",
                "GraphQL requests looked up in the response cache and executed.",
                self.response_cache_misses.load(Ordering::Relaxed),
            ),
            (
                "kyrgyz_relations_response_cache_entries",
                "gauge",
                "Answers the response cache holds.",
                response_cache.entries,
            ),
            (
                "kyrgyz_relations_response_cache_bytes",
                "gauge",
                "Bytes the response cache holds: keys, answers and a per-entry overhead.",
                response_cache.bytes,
            ),
            (
                "kyrgyz_relations_read_cache_hits_total",
                "counter",
                "Record and list reads answered from the store's read cache.",
                read_cache.hits,
            ),
            (
                "kyrgyz_relations_read_cache_misses_total",
                "counter",
                "Record and list reads that went to sled (and were then cached).",
                read_cache.misses,
            ),
            (
                "kyrgyz_relations_read_cache_entries",
                "gauge",
                "Decoded records and short lists the read cache holds.",
                read_cache.entries,
            ),
            (
                "kyrgyz_relations_read_cache_bytes",
                "gauge",
                "Estimated bytes the read cache holds (bound: --read-cache-mib).",
                read_cache.bytes,
            ),
            (
                "kyrgyz_relations_log_lines_dropped_total",
                "counter",
                "Log lines dropped because the log writer had fallen behind (a request never waits for it).",
                crate::logging::dropped_lines(),
            ),
        ] {
            writeln!(out, "# HELP {name} {help}")?;
            writeln!(out, "# TYPE {name} {kind}")?;
            writeln!(out, "{name} {value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
        text.lines().find(|line| line.starts_with(prefix))
    }

    #[test]
    fn requests_are_counted_by_route_and_status_and_unknown_routes_are_other() {
        let metrics = Metrics::new(&["/graphql", "/"], &[]);
        metrics.record_request(Some("/graphql"), 200, Duration::from_micros(300));
        metrics.record_request(Some("/graphql"), 200, Duration::from_millis(3));
        metrics.record_request(Some("/graphql"), 400, Duration::from_millis(30));
        metrics.record_request(Some("/wp-admin"), 404, Duration::from_secs(11));
        metrics.record_request(None, 404, Duration::from_millis(1));
        let text = metrics.render(ResponseCacheSize::default(), ReadCacheSize::default());
        let requests = "kyrgyz_relations_http_requests_total";
        assert_eq!(
            line(
                &text,
                &format!("{requests}{{route=\"/graphql\",status=\"200\"}}")
            ),
            Some(&*format!(
                "{requests}{{route=\"/graphql\",status=\"200\"}} 2"
            ))
        );
        assert!(text.contains(&format!(
            "{requests}{{route=\"/graphql\",status=\"400\"}} 1"
        )));
        assert!(text.contains(&format!("{requests}{{route=\"other\",status=\"404\"}} 2")));
        assert!(!text.contains("wp-admin"));
        assert!(
            !text.contains("route=\"/\""),
            "unused routes are left out:\n{text}"
        );

        let duration = "kyrgyz_relations_http_request_duration_seconds";
        for (le, count) in [
            ("0.001", 1),
            ("0.005", 2),
            ("0.025", 2),
            ("0.05", 3),
            ("10", 3),
            ("+Inf", 3),
        ] {
            assert!(
                text.contains(&format!(
                    "{duration}_bucket{{route=\"/graphql\",le=\"{le}\"}} {count}\n"
                )),
                "le={le}:\n{text}"
            );
        }
        assert!(text.contains(&format!("{duration}_count{{route=\"/graphql\"}} 3\n")));
        assert!(text.contains(&format!("{duration}_sum{{route=\"/graphql\"}} 0.0333\n")));
        // The 11 s request is above every bucket but `+Inf`.
        assert!(text.contains(&format!(
            "{duration}_bucket{{route=\"other\",le=\"10\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "{duration}_bucket{{route=\"other\",le=\"+Inf\"}} 2\n"
        )));
    }

    #[test]
    fn errors_are_counted_by_known_code_other_or_none() {
        let metrics = Metrics::new(&[], &["BAD_USER_INPUT"]);
        metrics.record_graphql_error(Some("BAD_USER_INPUT"));
        metrics.record_graphql_error(Some("BAD_USER_INPUT"));
        metrics.record_graphql_error(Some("made up by someone"));
        metrics.record_graphql_error(None);
        metrics.record_persisted_query(PersistedQuery::Miss);
        let text = metrics.render(ResponseCacheSize::default(), ReadCacheSize::default());
        let errors = "kyrgyz_relations_graphql_errors_total";
        assert!(text.contains(&format!("{errors}{{code=\"BAD_USER_INPUT\"}} 2\n")));
        assert!(text.contains(&format!("{errors}{{code=\"other\"}} 1\n")));
        assert!(text.contains(&format!("{errors}{{code=\"none\"}} 1\n")));
        assert!(text.contains("kyrgyz_relations_apq_misses_total 1\n"));
        assert!(text.contains("kyrgyz_relations_apq_hits_total 0\n"));
    }

    #[test]
    fn response_cache_lookups_and_size_are_rendered_even_when_zero() {
        let metrics = Metrics::new(&[], &[]);
        let text = metrics.render(ResponseCacheSize::default(), ReadCacheSize::default());
        for line in [
            "kyrgyz_relations_response_cache_hits_total 0\n",
            "kyrgyz_relations_response_cache_misses_total 0\n",
            "kyrgyz_relations_response_cache_entries 0\n",
            "kyrgyz_relations_response_cache_bytes 0\n",
            "# TYPE kyrgyz_relations_response_cache_entries gauge\n",
        ] {
            assert!(text.contains(line), "{line}:\n{text}");
        }
        metrics.record_response_cache(ResponseCacheLookup::Hit);
        metrics.record_response_cache(ResponseCacheLookup::Hit);
        metrics.record_response_cache(ResponseCacheLookup::Miss);
        let text = metrics.render(
            ResponseCacheSize {
                entries: 3,
                bytes: 4096,
            },
            ReadCacheSize {
                entries: 5,
                bytes: 8192,
                hits: 7,
                misses: 11,
            },
        );
        for line in [
            "kyrgyz_relations_response_cache_hits_total 2\n",
            "kyrgyz_relations_response_cache_misses_total 1\n",
            "kyrgyz_relations_response_cache_entries 3\n",
            "kyrgyz_relations_response_cache_bytes 4096\n",
            "kyrgyz_relations_read_cache_hits_total 7\n",
            "kyrgyz_relations_read_cache_misses_total 11\n",
            "kyrgyz_relations_read_cache_entries 5\n",
            "kyrgyz_relations_read_cache_bytes 8192\n",
        ] {
            assert!(text.contains(line), "{line}:\n{text}");
        }
    }
}
