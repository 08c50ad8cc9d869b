//! The chat gateway's tables: webhook ingest against lull's own `/healthz` in the same run,
//! debounce timer lateness, and the memory held by a million pending conversations (the JSON
//! line `examples/conversations_1m.rs` prints).

use std::fmt::Write as _;

use serde_json::Value;

use crate::lateness::{self, LatenessResult};
use crate::workload::RunResult;

pub fn markdown(runs: &[RunResult], lateness: &[LatenessResult], memory: &[Value]) -> String {
    let mut out = String::new();
    let mut platforms: Vec<&str> = runs
        .iter()
        .filter(|r| r.scenario == "webhook")
        .map(|r| r.target.as_str())
        .collect();
    platforms.dedup();
    if !platforms.is_empty() {
        let _ = writeln!(
            out,
            "### Webhook ingest against lull's no-op limit (`GET /healthz`)\n"
        );
        let _ = writeln!(
            out,
            "| payload | conns | fragments/s | p50 ms | p99 ms | /healthz req/s | p99 ms | ingest ÷ /healthz |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in runs.iter().filter(|r| r.scenario == "webhook") {
            // The /healthz run at the same connection count, the latest one before or after.
            let h = runs
                .iter()
                .rev()
                .find(|h| h.scenario == "healthz" && h.connections == r.connections);
            let ratio = match h {
                Some(h) if h.requests_per_s > 0.0 => {
                    format!("**{:.0} %**", 100.0 * r.msgs_per_s / h.requests_per_s)
                }
                _ => "—".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |{}",
                r.target,
                r.connections,
                r.msgs_per_s,
                r.p50_ms,
                r.p99_ms,
                h.map_or_else(|| "—".into(), |h| format!("{:.0}", h.requests_per_s)),
                h.map_or_else(|| "—".into(), |h| format!("{:.2}", h.p99_ms)),
                ratio,
                if r.errors > 0 {
                    format!(" {} errors", r.errors)
                } else {
                    String::new()
                }
            );
        }
        let _ = writeln!(out);
    }
    if !lateness.is_empty() {
        let _ = writeln!(out, "### Debounce timer lateness while ingesting\n");
        out.push_str(&lateness::markdown(lateness));
        let _ = writeln!(out);
    }
    if !memory.is_empty() {
        let _ = writeln!(out, "### Pending conversations in memory\n");
        let _ = writeln!(
            out,
            "| conversations | fill s | fragments/s | RSS before MiB | RSS after MiB | bytes / conversation | store MiB | reopen s | RSS after reopen MiB | buffers after reopen |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for m in memory {
            let f = |k: &str| m.get(k).and_then(Value::as_f64);
            let show = |x: Option<f64>, digits: usize| {
                x.map_or_else(|| "—".into(), |x| format!("{x:.digits$}"))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | **{}** | {} | **{}** | {} | {} |",
                show(f("conversations"), 0),
                show(f("fill_seconds"), 1),
                show(f("fill_per_second"), 0),
                show(f("rss_before_mib"), 0),
                show(f("rss_after_mib"), 0),
                show(f("bytes_per_conversation"), 0),
                show(f("store_mib"), 0),
                show(f("reopen_seconds"), 2),
                show(f("rss_reopened_mib"), 0),
                show(f("buffers_reopened"), 0),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(target: &str, scenario: &str, conns: u32, rate: f64) -> RunResult {
        RunResult {
            target: target.into(),
            scenario: scenario.into(),
            connections: conns,
            batch: 1,
            messages: 100,
            seconds: 1.0,
            msgs_per_s: rate,
            requests_per_s: rate,
            p50_ms: 1.0,
            p99_ms: 2.0,
            errors: 0,
        }
    }

    #[test]
    fn ingest_is_shown_as_a_share_of_healthz() {
        let md = markdown(
            &[
                run("zapi", "webhook", 8, 6000.0),
                run("lull", "healthz", 8, 10000.0),
            ],
            &[],
            &[serde_json::json!({"conversations": 1000000, "bytes_per_conversation": 612.4})],
        );
        assert!(
            md.contains("| zapi | 8 | 6000 | 1.00 | 2.00 | 10000 | 2.00 | **60 %** |"),
            "{md}"
        );
        assert!(md.contains("| 1000000 |"), "{md}");
        assert!(md.contains("**612**"), "{md}");
    }
}
