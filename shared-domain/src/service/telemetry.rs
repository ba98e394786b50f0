//! Logging set-up, the same for every service: `tracing-subscriber` to stdout, level filter from
//! `RUST_LOG` (default `info`), human-readable by default, JSON lines with `LOG_FORMAT=json`.
//!
//! OpenTelemetry export (when `OTEL_EXPORTER_OTLP_ENDPOINT` is set) is a later step: it will be
//! one more layer here, fed by the spans the request-context middleware already opens.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

/// Filter used when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event, span fields in front.
    Human,
    /// One JSON object per line, with the current span's fields under `span`.
    Json,
}

impl LogFormat {
    /// `json` (any case) → [`Json`](Self::Json); anything else → [`Human`](Self::Human).
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.trim().eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Human,
        }
    }

    /// From `LOG_FORMAT`.
    pub fn from_env() -> Self {
        Self::parse(std::env::var("LOG_FORMAT").ok().as_deref())
    }
}

/// Installs the global subscriber for `service_name` (stdout, `RUST_LOG`, `LOG_FORMAT`) and
/// routes the `log` crate's records into it. Safe to call more than once: later calls change
/// nothing.
pub fn init(service_name: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let format = LogFormat::from_env();
    let ansi = std::io::stdout().is_terminal();
    let installed = subscriber(filter, format, ansi, std::io::stdout)
        .try_init()
        .is_ok();
    if installed {
        tracing::info!(service = service_name, ?format, "logging initialised");
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() {
            tracing::warn!(
                "OTEL_EXPORTER_OTLP_ENDPOINT is set, but OpenTelemetry export is not built in yet; \
                 trace ids are in every request's log lines"
            );
        }
    }
}

/// The subscriber [`init`] installs, with its writer and filter given: tests capture log lines
/// with it (`tracing::subscriber::with_default(subscriber(…, buffer), || …)`).
pub fn subscriber<W>(
    filter: EnvFilter,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true);
    match format {
        LogFormat::Human => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .flatten_event(true)
                .finish(),
        ),
    }
}
