//! `GET /metrics`: queue depths in the Prometheus text format, so any scraper can watch the
//! broker without an SQS client.

use std::fmt::Write as _;

use crate::engine::{Engine, EngineError};

/// Renders one gauge per queue and state (visible, in flight, delayed) for `region`.
pub async fn render(engine: &Engine, region: &str) -> Result<String, EngineError> {
    let mut out = String::from(
        "# HELP lull_queue_messages Messages in a queue by state.\n# TYPE lull_queue_messages gauge\n",
    );
    for q in engine.list_queues(region, "").await? {
        // A queue deleted since the listing simply drops out.
        let Ok(c) = engine.counts(&q.key).await else {
            continue;
        };
        let name = escape(&q.key.name);
        let region = escape(&q.key.region);
        for (state, n) in [
            ("visible", c.visible),
            ("in_flight", c.in_flight),
            ("delayed", c.delayed),
        ] {
            let _ = writeln!(
                out,
                "lull_queue_messages{{region=\"{region}\",queue=\"{name}\",state=\"{state}\"}} {n}"
            );
        }
    }
    Ok(out)
}

/// Label values escape backslash, quote and newline.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
