//! Logging set-up, the same for every service: `tracing-subscriber` to stdout, level filter from
//! `RUST_LOG` (default `info`), human-readable by default, JSON lines with `LOG_FORMAT=json`.
//!
//! OpenTelemetry: with the cargo feature `otel` (on in the services' default features) and
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set (e.g. `http://otel-collector:4318`), spans are also exported
//! over OTLP/HTTP (protobuf) in batches; the standard `OTEL_EXPORTER_OTLP_*` variables (headers,
//! timeout, `…_TRACES_ENDPOINT`) apply. The request span of the request-context middleware is
//! the exported server span: it continues the caller's `traceparent`, and its span id is the one
//! passed on downstream, so the collector sees one tree per order. Unset: no exporter at all.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Filter used when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// The variable that switches OpenTelemetry export on: the collector's base URL.
pub const OTLP_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The standard override of the traces URL (taken as is, without `/v1/traces` appended).
pub const OTLP_TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";

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

/// Installs the global subscriber for `service_name` (stdout, `RUST_LOG`, `LOG_FORMAT`, and the
/// OTLP exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set) and routes the `log` crate's records
/// into it. Safe to call more than once: later calls change nothing.
pub fn init(service_name: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let format = LogFormat::from_env();
    let ansi = std::io::stdout().is_terminal();
    let (otel, otel_error) = match traces_url_from_env() {
        Some(url) => match otel_layer(service_name, &url) {
            Ok(layer) => (layer, None),
            Err(error) => (None, Some(error)),
        },
        None => (None, None),
    };
    let exporting = otel.is_some();
    let installed = build(filter, format, ansi, std::io::stdout, otel)
        .try_init()
        .is_ok();
    if installed {
        tracing::info!(
            service = service_name,
            ?format,
            otlp_export = exporting,
            "logging initialised"
        );
        if let Some(error) = otel_error {
            tracing::warn!(%error, "OpenTelemetry export is off");
        }
    }
}

/// The subscriber [`init`] installs, with its writer and filter given and no exporter: tests
/// capture log lines with it (`tracing::subscriber::with_default(subscriber(…, buffer), || …)`).
pub fn subscriber<W>(
    filter: EnvFilter,
    format: LogFormat,
    ansi: bool,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build(filter, format, ansi, writer, None)
}

/// Where spans go: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else
/// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`; `None` (no export) when neither is set.
pub fn traces_url_from_env() -> Option<String> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    var(OTLP_TRACES_ENDPOINT_VAR).or_else(|| var(OTLP_ENDPOINT_VAR).map(|base| traces_url(&base)))
}

/// The OTLP/HTTP traces URL of a collector's base URL.
pub fn traces_url(base: &str) -> String {
    format!("{}/v1/traces", base.trim().trim_end_matches('/'))
}

/// A layer over the filtered registry, boxed so that the optional exporter layer has one type.
type BoxedLayer = Box<dyn Layer<Filtered> + Send + Sync + 'static>;
type Filtered = tracing_subscriber::layer::Layered<EnvFilter, tracing_subscriber::Registry>;

fn build<W>(
    filter: EnvFilter,
    format: LogFormat,
    ansi: bool,
    writer: W,
    otel: Option<BoxedLayer>,
) -> Box<dyn Subscriber + Send + Sync + 'static>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let lines: BoxedLayer = match format {
        LogFormat::Human => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(true)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_target(true)
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .boxed(),
    };
    let layers: Vec<BoxedLayer> = std::iter::once(lines).chain(otel).collect();
    Box::new(tracing_subscriber::registry().with(filter).with(layers))
}

/// The OTLP exporter layer sending to `traces_url`, or why it cannot be built (no `otel`
/// feature, a bad URL). The message holds no credentials.
fn otel_layer(service_name: &str, traces_url: &str) -> Result<Option<BoxedLayer>, String> {
    #[cfg(feature = "otel")]
    {
        otel::layer(service_name, traces_url).map(Some)
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (service_name, traces_url);
        Err(format!(
            "{OTLP_ENDPOINT_VAR} is set, but this binary was built without the `otel` feature"
        ))
    }
}

/// Exports the spans still buffered (blocking, bounded by the exporter's time-out). Called by
/// [`run_until_shutdown`](super::run_until_shutdown) once the server has stopped; a no-op
/// without an exporter.
pub fn flush() {
    #[cfg(feature = "otel")]
    otel::flush();
}

/// Makes the request's `span` the exported server span of `context` (when an exporter is
/// installed; otherwise nothing happens): its parent is the caller's span, and `context` takes
/// its trace and span ids so that logs, answers and outbound calls name the exported span.
pub(crate) fn link_request_span(span: &tracing::Span, context: &mut super::TraceContext) {
    #[cfg(feature = "otel")]
    otel::link_request_span(span, context);
    #[cfg(not(feature = "otel"))]
    let _ = (span, context);
}

#[cfg(feature = "otel")]
pub mod otel {
    //! The OpenTelemetry parts (feature `otel`): the exporter layer and the span linking.

    use std::sync::OnceLock;

    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
    };
    use opentelemetry_otlp::WithExportConfig;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::Layer;

    use super::BoxedLayer;
    use crate::service::TraceContext;

    /// The provider of the installed exporter, kept to flush it at shutdown.
    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

    /// A tracer provider exporting the spans of `service_name` in batches to `traces_url` (OTLP
    /// over HTTP, protobuf).
    pub fn provider(service_name: &str, traces_url: &str) -> Result<SdkTracerProvider, String> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(traces_url)
            .build()
            .map_err(|e| {
                let e = crate::service::config::redact_urls_in(&e.to_string());
                format!(
                    "cannot build the OTLP exporter for {}: {e}",
                    crate::service::config::redact_url(traces_url)
                )
            })?;
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service_name.to_owned())
                    .build(),
            )
            .build())
    }

    /// The `tracing` layer feeding `provider`.
    pub fn layer_for<S>(provider: &SdkTracerProvider, service_name: &str) -> impl Layer<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(service_name.to_owned()))
    }

    pub(super) fn layer(service_name: &str, traces_url: &str) -> Result<BoxedLayer, String> {
        let provider = provider(service_name, traces_url)?;
        let layer = layer_for(&provider, service_name).boxed();
        // A second `init` keeps the first provider; its subscriber is the one installed.
        let _ = PROVIDER.set(provider);
        Ok(layer)
    }

    pub(super) fn flush() {
        if let Some(provider) = PROVIDER.get()
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "cannot flush the last spans to the OTLP endpoint");
        }
    }

    /// See [`super::link_request_span`].
    pub fn link_request_span(span: &tracing::Span, context: &mut TraceContext) {
        if let Some(parent) = context.parent_span_id() {
            let remote = SpanContext::new(
                TraceId::from_hex(context.trace_id()).unwrap_or(TraceId::INVALID),
                SpanId::from_hex(parent).unwrap_or(SpanId::INVALID),
                TraceFlags::new(context.flags()),
                true,
                TraceState::default(),
            );
            if remote.is_valid() {
                let parent = opentelemetry::Context::new().with_remote_span_context(remote);
                if span.set_parent(parent).is_err() {
                    // No exporter layer (endpoint unset) or the span is disabled.
                    return;
                }
            }
        }
        let otel = span.context();
        let exported = otel.span().span_context().clone();
        if exported.is_valid() {
            context.adopt_ids(
                &exported.trace_id().to_string(),
                &exported.span_id().to_string(),
                exported.trace_flags().to_u8(),
            );
        }
    }
}
