//! Turns result records into tables: a plain table for the terminal, and the
//! markdown comparison that `run.sh` publishes (lull against RabbitMQ and
//! moto on the full cycle, and SendMessage against the `/healthz` no-op).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::workload::RunResult;

/// Which target labels play which part in the comparison.
pub struct Labels<'a> {
    pub lull: &'a str,
    pub rabbitmq: &'a str,
    pub moto: &'a str,
}

/// A fixed-width table of every run, for people watching a terminal.
pub fn plain_table(results: &[RunResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<11} {:>5} {:>5} {:>9} {:>8} {:>11} {:>11} {:>9} {:>9} {:>7}",
        "target",
        "scenario",
        "conns",
        "batch",
        "messages",
        "seconds",
        "msgs/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors"
    );
    for r in results {
        let _ = writeln!(
            out,
            "{:<10} {:<11} {:>5} {:>5} {:>9} {:>8.2} {:>11.1} {:>11.1} {:>9.3} {:>9.3} {:>7}",
            r.target,
            r.scenario,
            r.connections,
            r.batch,
            r.messages,
            r.seconds,
            r.msgs_per_s,
            r.requests_per_s,
            r.p50_ms,
            r.p99_ms,
            r.errors
        );
    }
    out
}

type Key<'a> = (&'a str, &'a str, u32, u32);

fn index(results: &[RunResult]) -> BTreeMap<Key<'_>, &RunResult> {
    // A later record for the same run replaces an earlier one.
    results
        .iter()
        .map(|r| {
            (
                (
                    r.target.as_str(),
                    r.scenario.as_str(),
                    r.connections,
                    r.batch,
                ),
                r,
            )
        })
        .collect()
}

fn rate(r: Option<&&RunResult>, per_request: bool) -> String {
    match r {
        Some(r) if per_request => format!("{:.0}", r.requests_per_s),
        Some(r) => format!("{:.0}", r.msgs_per_s),
        None => "—".into(),
    }
}

fn p99(r: Option<&&RunResult>) -> String {
    r.map_or_else(|| "—".into(), |r| format!("{:.2}", r.p99_ms))
}

fn ratio(a: Option<&&RunResult>, b: Option<&&RunResult>, per_request: bool) -> String {
    let pick = |r: &RunResult| {
        if per_request {
            r.requests_per_s
        } else {
            r.msgs_per_s
        }
    };
    match (a, b) {
        (Some(a), Some(b)) if pick(b) > 0.0 => format!("**{:.2}×**", pick(a) / pick(b)),
        _ => "—".into(),
    }
}

/// The published comparison, in markdown.
pub fn markdown(results: &[RunResult], labels: &Labels<'_>) -> String {
    let by_key = index(results);
    let mut out = String::new();

    let _ = writeln!(
        out,
        "### Full cycle: send → receive → delete (messages/s)\n"
    );
    let _ = writeln!(
        out,
        "| conns | batch | lull msg/s | lull p99 ms | RabbitMQ msg/s | RabbitMQ p99 ms | lull ÷ RabbitMQ | moto msg/s | moto p99 ms | lull ÷ moto |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut cycles: Vec<(u32, u32)> = results
        .iter()
        .filter(|r| r.scenario == "cycle")
        .map(|r| (r.batch, r.connections))
        .collect();
    cycles.sort_unstable();
    cycles.dedup();
    for (batch, conns) in cycles {
        let l = by_key.get(&(labels.lull, "cycle", conns, batch));
        let q = by_key.get(&(labels.rabbitmq, "cycle", conns, batch));
        let m = by_key.get(&(labels.moto, "cycle", conns, batch));
        let _ = writeln!(
            out,
            "| {conns} | {batch} | {} | {} | {} | {} | {} | {} | {} | {} |",
            rate(l, false),
            p99(l),
            rate(q, false),
            p99(q),
            ratio(l, q, false),
            rate(m, false),
            p99(m),
            ratio(l, m, false),
        );
    }

    let _ = writeln!(
        out,
        "\n### lull SendMessage against its own no-op limit (`GET /healthz`), requests/s\n"
    );
    let _ = writeln!(
        out,
        "| conns | SendMessage req/s | p99 ms | /healthz req/s | p99 ms | SendMessage ÷ /healthz |"
    );
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
    let mut conns: Vec<u32> = results
        .iter()
        .filter(|r| r.target == labels.lull && (r.scenario == "send" || r.scenario == "healthz"))
        .map(|r| r.connections)
        .collect();
    conns.sort_unstable();
    conns.dedup();
    for c in conns {
        let s = by_key.get(&(labels.lull, "send", c, 1));
        let h = by_key.get(&(labels.lull, "healthz", c, 1));
        let _ = writeln!(
            out,
            "| {c} | {} | {} | {} | {} | {} |",
            rate(s, true),
            p99(s),
            rate(h, true),
            p99(h),
            ratio(s, h, true),
        );
    }

    let _ = writeln!(out, "\n### Every run\n");
    let _ = writeln!(
        out,
        "| target | scenario | conns | batch | messages | seconds | msg/s | req/s | p50 ms | p99 ms | errors |"
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.0} | {:.2} | {:.2} | {} |",
            r.target,
            r.scenario,
            r.connections,
            r.batch,
            r.messages,
            r.seconds,
            r.msgs_per_s,
            r.requests_per_s,
            r.p50_ms,
            r.p99_ms,
            r.errors
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(target: &str, scenario: &str, conns: u32, batch: u32, rate: f64) -> RunResult {
        RunResult {
            target: target.into(),
            scenario: scenario.into(),
            connections: conns,
            batch,
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
    fn markdown_shows_cycle_and_noop_ratios() {
        let results = vec![
            result("lull", "cycle", 8, 1, 3000.0),
            result("rabbitmq", "cycle", 8, 1, 1500.0),
            result("moto", "cycle", 8, 1, 300.0),
            result("lull", "send", 8, 1, 5000.0),
            result("lull", "healthz", 8, 1, 20000.0),
        ];
        let labels = Labels {
            lull: "lull",
            rabbitmq: "rabbitmq",
            moto: "moto",
        };
        let md = markdown(&results, &labels);
        assert!(md.contains(
            "| 8 | 1 | 3000 | 2.00 | 1500 | 2.00 | **2.00×** | 300 | 2.00 | **10.00×** |"
        ));
        assert!(md.contains("| 8 | 5000 | 2.00 | 20000 | 2.00 | **0.25×** |"));
    }

    #[test]
    fn missing_peer_shows_a_dash() {
        let results = vec![result("lull", "cycle", 1, 1, 100.0)];
        let labels = Labels {
            lull: "lull",
            rabbitmq: "rabbitmq",
            moto: "moto",
        };
        assert!(markdown(&results, &labels).contains("| 1 | 1 | 100 | 2.00 | — | — | — |"));
    }
}
