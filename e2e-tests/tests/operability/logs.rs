//! The log lines of every service running in this test process, captured as JSON through the
//! service kit's own subscriber (`telemetry::subscriber`, the one `telemetry::init` installs).

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use shared_domain::service::telemetry::{LogFormat, subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Every log line of this test process, JSON, one per line.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The process-wide capture, installed on first use as the global subscriber (actix workers
/// run on threads of their own, so a thread-local default would miss them).
pub fn logs() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let filter = EnvFilter::new(
            "info,eventstore_service=debug,projection_service=debug,command_service=debug,\
             query_service=debug,shared_domain=debug",
        );
        tracing::subscriber::set_global_default(subscriber(
            filter,
            LogFormat::Json,
            false,
            captured.clone(),
        ))
        .expect("no other global subscriber in this test process");
        captured
    })
}

impl Captured {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The lines logged so far, parsed (a line that is not JSON fails the test: the format is
    /// part of the contract).
    pub fn lines(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect()
    }
}
