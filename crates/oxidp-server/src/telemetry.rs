//! Metrics (Prometheus text format on `/metrics`) and request logging.
//!
//! Request logs and metrics carry the method, the route pattern and the status, never the query
//! string or a body, so no token or secret can reach them. Every log line of a request carries
//! its `request_id`, the same as the `X-Request-Id` response header.

use crate::request::{ConnectedPeer, Forwarding};
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;
use tracing::Instrument as _;

/// The process-wide Prometheus recorder; `metrics` allows one per process, and every server in
/// the process (tests start many) reports through it.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            match builder.install_recorder() {
                Ok(handle) => {
                    register_session_metrics();
                    handle
                }
                // Another recorder is already installed (an embedding application's): render
                // an empty registry rather than fail.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

/// Describes the session and back-channel metrics and exposes the counters at 0 from the
/// start, so that a dashboard or an alert on them sees a series before the first event (a
/// delivery that never failed still shows `..._failed_total 0`).
fn register_session_metrics() {
    const COUNTERS: [(&str, &str); 5] = [
        (
            "oxidp_sessions_created_total",
            "Server-side sessions created.",
        ),
        (
            "oxidp_sessions_removed_by_cleanup_total",
            "Expired server-side sessions removed by the cleanup job.",
        ),
        (
            "oxidp_backchannel_logout_enqueued_total",
            "Back-channel logout messages written to the outbox.",
        ),
        (
            "oxidp_backchannel_logout_delivered_total",
            "Back-channel logout messages a client accepted.",
        ),
        (
            "oxidp_backchannel_logout_failed_total",
            "Back-channel logout delivery attempts that failed.",
        ),
    ];
    for (name, help) in COUNTERS {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).increment(0);
    }
    metrics::describe_gauge!("oxidp_build_info", "Always 1; the labels name the build.");
    metrics::gauge!("oxidp_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    metrics::describe_counter!(
        "oxidp_sign_in_failures_total",
        "Password sign-ins refused, by reason (invalid_credentials, throttled)."
    );
    for reason in ["invalid_credentials", "throttled"] {
        metrics::counter!("oxidp_sign_in_failures_total", "reason" => reason).increment(0);
    }
    metrics::describe_gauge!(
        "process_resident_memory_bytes",
        metrics::Unit::Bytes,
        "Resident memory of the process."
    );
    metrics::describe_gauge!(
        "process_cpu_seconds_total",
        metrics::Unit::Seconds,
        "User and system CPU time of the process (a gauge: the recorder's counters are whole numbers)."
    );
    metrics::describe_gauge!("process_open_fds", "Open file descriptors of the process.");
    metrics::describe_gauge!(
        "process_start_time_seconds",
        metrics::Unit::Seconds,
        "Start time of the process, in seconds since the Unix epoch."
    );
    metrics::describe_gauge!(
        "oxidp_sessions_active",
        "Server-side sessions not expired, as of the last cleanup run."
    );
    metrics::describe_histogram!(
        "oxidp_session_cleanup_duration_seconds",
        metrics::Unit::Seconds,
        "Duration of one run of the expired-session cleanup job."
    );
}

/// The header naming a request across the proxy, oxidp and its logs.
const REQUEST_ID: &str = "x-request-id";

/// Longest request id taken from a proxy.
const MAX_REQUEST_ID_LEN: usize = 128;

/// The request's id: the one a trusted proxy sent in `X-Request-Id` (so the proxy's and
/// oxidp's logs share it), otherwise a new UUIDv7. Anyone else's header is ignored: a client
/// could otherwise write arbitrary text into every log line of its requests.
fn request_id(request: &Request) -> String {
    let extensions = request.extensions();
    let tcp_peer = extensions
        .get::<ConnectInfo<ConnectedPeer>>()
        .and_then(|ConnectInfo(ConnectedPeer(peer))| peer.remote_addr)
        .or_else(|| {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(address)| *address)
        });
    let from_trusted_proxy = matches!(
        (tcp_peer, extensions.get::<Forwarding>()),
        (Some(peer), Some(Forwarding(trusted))) if trusted.contains(peer.ip())
    );
    if from_trusted_proxy
        && let Some(id) = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok())
        && !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
    {
        return id.to_owned();
    }
    uuid::Uuid::now_v7().to_string()
}

/// Records `oxidp_http_requests_total` and `oxidp_http_request_duration_seconds`, runs the
/// request in a span carrying its id (and the client id, once a service has authenticated
/// one), echoes the id in `X-Request-Id`, and logs one access line per request at info level.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&request);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        client_id = tracing::field::Empty
    );
    let method = method_label(request.method());
    // Labels are static strings: no allocation per request on the hot path.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| route_label(p.as_str()));
    let mut response = next.run(request).instrument(span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let labels = [
        ("method", method),
        ("route", route),
        ("status", status_label(status)),
    ];
    metrics::counter!("oxidp_http_requests_total", &labels).increment(1);
    metrics::histogram!("oxidp_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            method,
            route,
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    response
}

/// The routes this server serves, as static labels.
const ROUTES: &[&str] = &[
    oxidp_core::options::paths::DISCOVERY,
    oxidp_core::options::paths::JWKS,
    oxidp_core::options::paths::TOKEN,
    oxidp_core::options::paths::INTROSPECTION,
    oxidp_core::options::paths::REVOCATION,
    oxidp_core::options::paths::AUTHORIZE,
    oxidp_core::options::paths::USERINFO,
    oxidp_core::options::paths::END_SESSION,
    oxidp_core::options::paths::LOGIN,
    oxidp_core::options::paths::CONSENT,
    oxidp_core::options::paths::LOGOUT,
    "/admin/sessions",
    "/admin/sessions/revoke",
    "/api/admin/sessions",
    "/api/admin/openapi.json",
    "/health/live",
    "/health/ready",
    "/healthz",
    "/metrics",
];

fn route_label(path: &str) -> &'static str {
    ROUTES
        .iter()
        .copied()
        .find(|route| *route == path)
        .unwrap_or("other")
}

fn method_label(method: &axum::http::Method) -> &'static str {
    match *method {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        204 => "204",
        302 => "302",
        303 => "303",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// Updates the standard `process_*` metrics from `/proc/self` (Linux; elsewhere they stay
/// absent). Read at each scrape, so they cost nothing between scrapes.
pub fn record_process_metrics() {
    #[cfg(target_os = "linux")]
    {
        // Both are 100 and 4096 on every Linux oxidp runs on; reading them would need libc.
        const TICKS_PER_SECOND: f64 = 100.0;
        const PAGE_SIZE: f64 = 4096.0;
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
            && let Some((_, after_name)) = stat.rsplit_once(") ")
        {
            // Fields after the command name, counted from `state` (field 3) as index 0.
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let number = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok());
            if let (Some(user), Some(system)) = (number(11), number(12)) {
                metrics::gauge!("process_cpu_seconds_total")
                    .set((user + system) / TICKS_PER_SECOND);
            }
            if let Some(pages) = number(21) {
                metrics::gauge!("process_resident_memory_bytes").set(pages * PAGE_SIZE);
            }
            if let (Some(start_ticks), Some(boot)) = (number(19), boot_time()) {
                metrics::gauge!("process_start_time_seconds")
                    .set(boot + start_ticks / TICKS_PER_SECOND);
            }
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            metrics::gauge!("process_open_fds").set(entries.count() as f64);
        }
    }
}

/// The machine's boot time (`btime` of `/proc/stat`), in seconds since the Unix epoch.
#[cfg(target_os = "linux")]
fn boot_time() -> Option<f64> {
    std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|value| value.trim().parse().ok())
}
