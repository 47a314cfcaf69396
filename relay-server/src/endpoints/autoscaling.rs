//! `GET /api/relay/autoscaling/` (http-api.md §8): gauges for an autoscaler, one per line in
//! Prometheus text form, `relay_<name>[{<k>="<v>", <k>="<v>"}] <value>`.
//!
//! What each gauge measures in this relay:
//! - `relay_memory_usage`: used / total system memory (`/proc/meminfo`, as the health check).
//! - `relay_up`: always `1` while relay answers.
//! - `relay_spool_item_count`, `relay_spool_total_size`: envelopes and bytes held in the
//!   memory budget of the envelope buffer (`utils::budget`), which is relay's spool.
//! - `relay_service_utilization{relay_service="UpstreamRelayService", instance_id="0"}`: the
//!   share of the upstream request slots (`limits.max_concurrent_requests`) in use. It is the
//!   only service with a fixed capacity whose use can be measured; the other services are
//!   plain tasks without one, so no figure is reported for them.
//! - `relay_worker_pool_utilization`: CPU time the HTTP worker threads used, relative to
//!   their wall time; they do the per-request work (decoding, parsing, checks).
//! - `relay_runtime_utilization`: the same for the async runtime's threads, which run the
//!   services (upstream requests, compression, project fetches).
//!
//! Both CPU figures cover the time since the previous scrape (since thread start for the
//! first one) and come from `/proc/self/task/*/stat`. Threads are told apart by the names
//! their creators give them: the runtime's are named `relay-worker` (`cli::run`), actix
//! names its HTTP workers `actix-server worker <n>`.
//!
//! In proxy mode the endpoint answers `404` "Autoscaling metrics not enabled"; when a figure
//! cannot be read it answers `500` "Failed to collect internal metrics".

use std::collections::HashMap;
use std::fmt::Write;

use actix_web::{web, HttpResponse};
use parking_lot::Mutex;
use relay_config::RelayMode;

use crate::service::ServiceState;
use crate::services::health::MemoryStat;

/// Content type of the answer.
const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";
/// Body of the proxy-mode `404`.
const NOT_ENABLED_MESSAGE: &str = "Autoscaling metrics not enabled";
/// Body of the `500` when a figure cannot be collected.
const COLLECTION_FAILED_MESSAGE: &str = "Failed to collect internal metrics";
/// Prefix of every gauge name.
const METRIC_PREFIX: &str = "relay_";
/// The only instance of every reported service.
const SERVICE_INSTANCE_ID: &str = "0";
/// Name under which the upstream service's utilization is reported.
const UPSTREAM_SERVICE_NAME: &str = "UpstreamRelayService";

/// Name of the async runtime's threads (set in `cli::run`).
const RUNTIME_THREAD_NAME: &str = "relay-worker";
/// Prefix of actix's HTTP worker thread names as the kernel keeps them: `comm` holds at most
/// 15 bytes, so `actix-server worker 0` reads `actix-server wo`, while the acceptor thread
/// reads `actix-server ac`.
const HTTP_WORKER_THREAD_PREFIX: &str = "actix-server wo";

/// Linux reports thread CPU and start times in `USER_HZ` ticks, which it fixes at 100 per
/// second for userspace whatever the kernel's internal tick rate is.
const TICKS_PER_SECOND: f64 = 100.0;
/// Fields of `/proc/<pid>/task/<tid>/stat` after the `(comm)` field, counted from 0 for the
/// state field (field 3 in proc(5)).
const STAT_FIELD_OFFSET: usize = 3;
/// proc(5) field numbers.
const STAT_FIELD_UTIME: usize = 14;
const STAT_FIELD_STIME: usize = 15;
const STAT_FIELD_STARTTIME: usize = 22;

/// One line of the answer.
#[derive(Clone, Debug, PartialEq)]
struct Gauge {
    name: &'static str,
    tags: Vec<(&'static str, String)>,
    value: f64,
}

impl Gauge {
    fn plain(name: &'static str, value: f64) -> Gauge {
        Gauge {
            name,
            tags: Vec::new(),
            value,
        }
    }
}

/// Why the gauges could not be collected.
#[derive(Debug, thiserror::Error)]
enum CollectError {
    #[error("system memory statistics (/proc/meminfo) are unavailable")]
    Memory,
    #[error("thread statistics (/proc/self/task) are unavailable")]
    Threads(#[source] std::io::Error),
    #[error("the system uptime (/proc/uptime) is unavailable")]
    Uptime,
}

/// CPU use of one thread as read from `/proc`.
#[derive(Clone, Debug, PartialEq)]
struct ThreadTimes {
    thread_id: u64,
    name: String,
    /// User plus system time, in ticks.
    cpu_ticks: u64,
    /// When the thread started, in ticks since boot.
    start_ticks: u64,
}

/// The CPU times of every thread at the previous scrape.
#[derive(Clone, Debug, Default)]
struct CpuSample {
    /// When the sample was taken, in ticks since boot.
    taken_at_ticks: f64,
    cpu_ticks_by_thread: HashMap<u64, u64>,
}

/// The previous scrape's sample: utilization is reported for the time between scrapes.
static PREVIOUS_CPU_SAMPLE: Mutex<Option<CpuSample>> = Mutex::new(None);

/// Parses `/proc/<pid>/task/<tid>/stat`: the name, CPU ticks and start time.
///
/// The name sits in parentheses and may itself contain spaces and parentheses, so the
/// fields are counted from the last `)`.
fn parse_thread_stat(thread_id: u64, text: &str) -> Option<ThreadTimes> {
    let name_start = text.find('(')? + 1;
    let name_end = text.rfind(')')?;
    let name = text.get(name_start..name_end)?.to_owned();
    let fields: Vec<&str> = text.get(name_end + 1..)?.split_whitespace().collect();
    let field = |number: usize| -> Option<u64> {
        fields
            .get(number.checked_sub(STAT_FIELD_OFFSET)?)?
            .parse()
            .ok()
    };
    Some(ThreadTimes {
        thread_id,
        name,
        cpu_ticks: field(STAT_FIELD_UTIME)?.saturating_add(field(STAT_FIELD_STIME)?),
        start_ticks: field(STAT_FIELD_STARTTIME)?,
    })
}

/// Seconds since boot from `/proc/uptime`, in ticks.
fn parse_uptime_ticks(text: &str) -> Option<f64> {
    let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(seconds * TICKS_PER_SECOND)
}

fn read_threads() -> Result<Vec<ThreadTimes>, CollectError> {
    let mut threads = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").map_err(CollectError::Threads)? {
        let entry = entry.map_err(CollectError::Threads)?;
        let Some(thread_id) = entry.file_name().to_str().and_then(|id| id.parse().ok()) else {
            continue;
        };
        // A thread that ended between listing and reading simply is not counted.
        let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some(times) = parse_thread_stat(thread_id, &text) {
            threads.push(times);
        }
    }
    Ok(threads)
}

/// The busy share of the threads whose name `selects`, since `previous` (or since each
/// thread started), in `[0, 1]`; `0` when no such thread exists or no time passed.
fn thread_group_utilization(
    threads: &[ThreadTimes],
    previous: Option<&CpuSample>,
    now_ticks: f64,
    selects: impl Fn(&str) -> bool,
) -> f64 {
    let mut busy_ticks = 0.0;
    let mut wall_ticks = 0.0;
    for thread in threads.iter().filter(|thread| selects(&thread.name)) {
        let earlier = previous.and_then(|sample| {
            let cpu = sample.cpu_ticks_by_thread.get(&thread.thread_id)?;
            Some((*cpu, sample.taken_at_ticks))
        });
        let (earlier_cpu, since_ticks) = earlier.unwrap_or((0, thread.start_ticks as f64));
        busy_ticks += thread.cpu_ticks.saturating_sub(earlier_cpu) as f64;
        wall_ticks += (now_ticks - since_ticks).max(0.0);
    }
    if wall_ticks <= 0.0 {
        return 0.0;
    }
    (busy_ticks / wall_ticks).clamp(0.0, 1.0)
}

/// Worker-pool and runtime utilization since the previous scrape.
fn cpu_utilization() -> Result<(f64, f64), CollectError> {
    let uptime = std::fs::read_to_string("/proc/uptime").map_err(|_| CollectError::Uptime)?;
    let now_ticks = parse_uptime_ticks(&uptime).ok_or(CollectError::Uptime)?;
    let threads = read_threads()?;
    let mut previous = PREVIOUS_CPU_SAMPLE.lock();
    let workers = thread_group_utilization(&threads, previous.as_ref(), now_ticks, |name| {
        name.starts_with(HTTP_WORKER_THREAD_PREFIX)
    });
    let runtime = thread_group_utilization(&threads, previous.as_ref(), now_ticks, |name| {
        name == RUNTIME_THREAD_NAME
    });
    *previous = Some(CpuSample {
        taken_at_ticks: now_ticks,
        cpu_ticks_by_thread: threads
            .iter()
            .map(|thread| (thread.thread_id, thread.cpu_ticks))
            .collect(),
    });
    Ok((workers, runtime))
}

fn collect(state: &ServiceState) -> Result<Vec<Gauge>, CollectError> {
    let memory = MemoryStat::current().ok_or(CollectError::Memory)?;
    let memory_usage = memory.used as f64 / memory.total.max(1) as f64;
    let budget = state.ingest.budget();
    let upstream_slots = state.config.max_concurrent_requests().max(1);
    let upstream_utilization =
        (state.upstream.in_flight() as f64 / upstream_slots as f64).clamp(0.0, 1.0);
    let (worker_pool_utilization, runtime_utilization) = cpu_utilization()?;
    Ok(vec![
        Gauge::plain("memory_usage", memory_usage),
        Gauge::plain("up", 1.0),
        Gauge::plain("spool_item_count", budget.used_envelopes() as f64),
        Gauge::plain("spool_total_size", budget.used_bytes() as f64),
        Gauge {
            name: "service_utilization",
            tags: vec![
                ("relay_service", UPSTREAM_SERVICE_NAME.to_owned()),
                ("instance_id", SERVICE_INSTANCE_ID.to_owned()),
            ],
            value: upstream_utilization,
        },
        Gauge::plain("worker_pool_utilization", worker_pool_utilization),
        Gauge::plain("runtime_utilization", runtime_utilization),
    ])
}

/// The text body: one `relay_<name>[{tags}] <value>` line per gauge.
fn render(gauges: &[Gauge]) -> String {
    let mut output = String::new();
    for gauge in gauges {
        output.push_str(METRIC_PREFIX);
        output.push_str(gauge.name);
        if !gauge.tags.is_empty() {
            output.push('{');
            for (index, (key, value)) in gauge.tags.iter().enumerate() {
                if index > 0 {
                    output.push_str(", ");
                }
                // Writing into a String cannot fail.
                let _ = write!(output, "{key}=\"{value}\"");
            }
            output.push('}');
        }
        let _ = writeln!(output, " {}", gauge.value);
    }
    output
}

/// `GET /api/relay/autoscaling/`.
pub async fn handle(state: web::Data<ServiceState>) -> HttpResponse {
    if state.config.mode() == RelayMode::Proxy {
        return HttpResponse::NotFound()
            .content_type(TEXT_CONTENT_TYPE)
            .body(NOT_ENABLED_MESSAGE);
    }
    match collect(&state) {
        Ok(gauges) => HttpResponse::Ok()
            .content_type(TEXT_CONTENT_TYPE)
            .body(render(&gauges)),
        Err(error) => {
            tracing::error!(error = %error, "could not collect autoscaling metrics");
            HttpResponse::InternalServerError()
                .content_type(TEXT_CONTENT_TYPE)
                .body(COLLECTION_FAILED_MESSAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(thread_id: u64, name: &str, cpu_ticks: u64, start_ticks: u64) -> ThreadTimes {
        ThreadTimes {
            thread_id,
            name: name.to_owned(),
            cpu_ticks,
            start_ticks,
        }
    }

    #[test]
    fn renders_gauges_with_prefix_tags_and_values() {
        let gauges = vec![
            Gauge::plain("up", 1.0),
            Gauge::plain("memory_usage", 0.086),
            Gauge {
                name: "service_utilization",
                tags: vec![
                    ("relay_service", "HealthCheckService".to_owned()),
                    ("instance_id", "0".to_owned()),
                ],
                value: 1.0,
            },
        ];
        assert_eq!(
            render(&gauges),
            "relay_up 1\nrelay_memory_usage 0.086\n\
             relay_service_utilization{relay_service=\"HealthCheckService\", instance_id=\"0\"} 1\n"
        );
    }

    #[test]
    fn parses_thread_stat_with_odd_names() {
        let text = "4242 (actix-server wo) S 1 2 3 4 5 6 7 8 9 10 120 30 0 0 20 0 1 0 5000 0 0";
        let times = parse_thread_stat(4242, text).unwrap();
        assert_eq!(times.name, "actix-server wo");
        assert_eq!(times.cpu_ticks, 150);
        assert_eq!(times.start_ticks, 5000);

        let odd = "7 (a) b (c) R 1 2 3 4 5 6 7 8 9 10 1 2 0 0 20 0 1 0 99 0 0";
        let times = parse_thread_stat(7, odd).unwrap();
        assert_eq!(times.name, "a) b (c");
        assert_eq!(times.cpu_ticks, 3);
        assert_eq!(times.start_ticks, 99);

        assert_eq!(parse_thread_stat(1, "1 (x) S 1 2"), None);
        assert_eq!(parse_thread_stat(1, "garbage"), None);
    }

    #[test]
    fn parses_uptime() {
        assert_eq!(parse_uptime_ticks("12.50 40.00\n"), Some(1250.0));
        assert_eq!(parse_uptime_ticks(""), None);
    }

    #[test]
    fn utilization_since_thread_start_without_a_previous_sample() {
        let threads = [
            thread(1, "relay-worker", 50, 1000),
            thread(2, "relay-worker", 0, 1000),
            thread(3, "other", 100, 1000),
        ];
        let utilization =
            thread_group_utilization(&threads, None, 1100.0, |name| name == RUNTIME_THREAD_NAME);
        assert!((utilization - 0.25).abs() < 1e-9, "{utilization}");
    }

    #[test]
    fn utilization_since_the_previous_sample() {
        let previous = CpuSample {
            taken_at_ticks: 2000.0,
            cpu_ticks_by_thread: HashMap::from([(1, 500)]),
        };
        // Thread 1 used 80 of the 100 ticks since the sample; thread 2 started after it.
        let threads = [
            thread(1, "relay-worker", 580, 10),
            thread(2, "relay-worker", 20, 2050),
        ];
        let utilization = thread_group_utilization(&threads, Some(&previous), 2100.0, |name| {
            name == RUNTIME_THREAD_NAME
        });
        assert!((utilization - 100.0 / 150.0).abs() < 1e-9, "{utilization}");
    }

    #[test]
    fn utilization_is_zero_without_threads_or_time() {
        assert_eq!(thread_group_utilization(&[], None, 10.0, |_| true), 0.0);
        let threads = [thread(1, "relay-worker", 5, 100)];
        assert_eq!(
            thread_group_utilization(&threads, None, 100.0, |_| true),
            0.0
        );
    }

    #[test]
    fn utilization_is_capped_at_one() {
        let threads = [thread(1, "relay-worker", 500, 100)];
        assert_eq!(
            thread_group_utilization(&threads, None, 200.0, |_| true),
            1.0
        );
    }
}
