//! What every scenario shares: the stop rule (time or message budget), the
//! per-worker counters and latency histogram, and the one result record.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    Send,
    SendBatch,
    Recv,
    Cycle,
    Healthz,
    /// `POST /webhooks/{app}`: one chat fragment per request.
    Webhook,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Send => "send",
            Scenario::SendBatch => "send-batch",
            Scenario::Recv => "recv",
            Scenario::Cycle => "cycle",
            Scenario::Healthz => "healthz",
            Scenario::Webhook => "webhook",
        }
    }

    /// The batch size a scenario really uses: single sends and probes are 1.
    pub fn effective_batch(self, batch: u32) -> u32 {
        match self {
            Scenario::Send | Scenario::Healthz | Scenario::Webhook => 1,
            _ => batch,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "send" => Ok(Scenario::Send),
            "send-batch" => Ok(Scenario::SendBatch),
            "recv" => Ok(Scenario::Recv),
            "cycle" => Ok(Scenario::Cycle),
            "healthz" => Ok(Scenario::Healthz),
            "webhook" => Ok(Scenario::Webhook),
            other => Err(format!(
                "unknown scenario `{other}` (send, send-batch, recv, cycle, healthz, webhook)"
            )),
        }
    }
}

/// When workers stop: at a deadline, or once a shared message budget is used up.
pub struct Budget {
    deadline: Instant,
    remaining: Option<AtomicI64>,
}

impl Budget {
    pub fn new(start: Instant, duration: Duration, messages: Option<u64>) -> Self {
        Self {
            deadline: start + duration,
            remaining: messages.map(|m| AtomicI64::new(i64::try_from(m).unwrap_or(i64::MAX))),
        }
    }

    /// Claims up to `want` messages of work; 0 means stop.
    pub fn take(&self, want: u32) -> u32 {
        if Instant::now() >= self.deadline {
            return 0;
        }
        match &self.remaining {
            None => want,
            Some(left) => {
                let before = left.fetch_sub(i64::from(want), Ordering::Relaxed);
                before.clamp(0, i64::from(want)) as u32
            }
        }
    }

    /// True once the deadline has passed (message budgets are checked by `take`).
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }
}

/// How long and how hard one target is driven; shared by every scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Label written into the results (`lull`, `moto`, `rabbitmq`).
    pub target: String,
    pub url: String,
    pub batch: u32,
    pub body_size: usize,
    pub duration: Duration,
    pub messages: Option<u64>,
    pub prefill: Option<u64>,
}

/// Longest a run bounded by a message count may take before it is cut off.
const COUNTED_RUN_CAP: Duration = Duration::from_secs(3600);

impl Plan {
    /// The measured phase: `--messages` if given, else `--duration`.
    pub fn budget(&self, start: Instant) -> Budget {
        match self.messages {
            Some(m) => Budget::new(start, COUNTED_RUN_CAP, Some(m)),
            None => Budget::new(start, self.duration, None),
        }
    }

    /// The unmeasured fill before `recv`: `--prefill`, else `--messages`,
    /// else as many as batched sends manage in `--duration`.
    pub fn prefill_budget(&self, start: Instant) -> Budget {
        match self.prefill.or(self.messages) {
            Some(m) => Budget::new(start, COUNTED_RUN_CAP, Some(m)),
            None => Budget::new(start, self.duration, None),
        }
    }
}

/// One worker's tally. Latency is recorded in microseconds per unit of work
/// (a request, a receive+delete pair, or a whole send→receive→delete cycle).
pub struct Stats {
    pub hist: Histogram<u64>,
    pub messages: u64,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub finished: Option<Instant>,
}

impl Stats {
    pub fn new() -> Self {
        Self {
            // 1 µs .. 60 s at 3 significant digits.
            hist: Histogram::new_with_bounds(1, 60_000_000, 3)
                .expect("constant histogram bounds are valid"),
            messages: 0,
            requests: 0,
            errors: 0,
            first_error: None,
            finished: None,
        }
    }

    /// Records one finished unit of work. The run's length is measured to the
    /// last finished unit, so a worker idling at the end (waiting for a
    /// delivery that will not come, or confirming the queue is empty) does
    /// not dilute the rate.
    pub fn record(&mut self, started: Instant) {
        let now = Instant::now();
        self.finished = Some(now);
        let micros = now.duration_since(started).as_micros().clamp(1, 60_000_000) as u64;
        // Values are clamped to the histogram's bounds, so recording cannot fail.
        let _ = self.hist.record(micros);
    }

    pub fn error(&mut self, err: impl fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(err.to_string());
        }
    }

    pub fn merge(&mut self, other: Stats) {
        let _ = self.hist.add(&other.hist);
        self.messages += other.messages;
        self.requests += other.requests;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.finished = match (self.finished, other.finished) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

/// One line of output per scenario run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunResult {
    pub target: String,
    pub scenario: String,
    pub connections: u32,
    pub batch: u32,
    pub messages: u64,
    pub seconds: f64,
    pub msgs_per_s: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
}

impl RunResult {
    pub fn from_stats(
        target: &str,
        scenario: Scenario,
        connections: u32,
        batch: u32,
        start: Instant,
        stats: &Stats,
    ) -> Self {
        let end = stats.finished.unwrap_or_else(Instant::now);
        let seconds = end.saturating_duration_since(start).as_secs_f64().max(1e-9);
        let ms = |q: f64| {
            if stats.hist.is_empty() {
                0.0
            } else {
                round3(stats.hist.value_at_quantile(q) as f64 / 1000.0)
            }
        };
        Self {
            target: target.to_string(),
            scenario: scenario.name().to_string(),
            connections,
            batch: scenario.effective_batch(batch),
            messages: stats.messages,
            seconds: round3(seconds),
            msgs_per_s: round1(stats.messages as f64 / seconds),
            requests_per_s: round1(stats.requests as f64 / seconds),
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            errors: stats.errors,
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A message body of `size` printable ASCII bytes, safe inside JSON and form encodings.
pub fn body_of(size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut state: u32 = 0x9e37_79b9;
    (0..size)
        .map(|_| {
            // xorshift: varied bytes without a random-number dependency.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ALPHABET[(state as usize) % ALPHABET.len()] as char
        })
        .collect()
}

/// A queue name no other run uses: scenario, connection count, process and time.
pub fn unique_queue_name(scenario: Scenario, connections: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "lull-bench-{}-c{}-{}-{}",
        scenario.name(),
        connections,
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_budget_hands_out_exactly_the_total() {
        let budget = Budget::new(Instant::now(), Duration::from_secs(60), Some(25));
        let mut got = 0;
        loop {
            let n = budget.take(10);
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(got, 25);
    }

    #[test]
    fn body_has_requested_size_and_is_alphanumeric() {
        let b = body_of(256);
        assert_eq!(b.len(), 256);
        assert!(b.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn send_reports_batch_of_one() {
        assert_eq!(Scenario::Send.effective_batch(10), 1);
        assert_eq!(Scenario::Cycle.effective_batch(10), 10);
    }
}
