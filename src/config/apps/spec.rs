//! An app as the gateway and its workers use it: every `[apps.NAME]` value parsed, checked and
//! defaulted. Built by [`super::AppConfig::spec`]; `lull.toml` is refused at start when it fails.

use super::AppConfig;
use crate::config::duration::DurationValue;
use crate::engine::debounce::{Adaptive, DebounceSettings, MediaPolicy};
use crate::webhooks::{Platform, PlatformConfig};

/// Where a flushed conversation is handed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handler {
    /// `POST` of the handler call JSON.
    Url(String),
    /// The handler call JSON on stdin, the answer on stdout; a non-zero exit is a failure.
    Command(Vec<String>),
}

/// Attempts, backoff and per-attempt timeout of a worker's deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries before the message is dead-lettered (the queue's `maxReceiveCount`).
    pub attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub timeout_ms: u64,
}

impl RetryPolicy {
    /// The queue's visibility timeout: one attempt's timeout plus time to record its outcome.
    pub fn visibility_secs(&self) -> u64 {
        self.timeout_ms.div_ceil(1000) + VISIBILITY_MARGIN_SECS
    }
}

/// Time a worker has after an attempt's timeout to delete, requeue or dead-letter the message.
pub const VISIBILITY_MARGIN_SECS: u64 = 5;

/// What happens to a handler's reply when the person wrote again while the handler worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaleReply {
    /// Send it anyway (what the seeds did).
    Send,
    /// Drop it; the newer fragments get their own handler call.
    Drop,
    /// Drop it and put the batch back in front of the newer fragments, so the handler answers
    /// everything the person said in one call.
    Merge,
}

impl StaleReply {
    pub fn as_str(self) -> &'static str {
        match self {
            StaleReply::Send => "send",
            StaleReply::Drop => "drop",
            StaleReply::Merge => "merge",
        }
    }
}

/// Outbound rates, in messages per second; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimit {
    pub per_app: Option<f64>,
    pub per_recipient: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    pub name: String,
    pub platform: PlatformConfig,
    /// `None`: no dispatcher; the inbox is read by whatever SQS consumer the user runs.
    pub handler: Option<Handler>,
    pub debounce: DebounceSettings,
    pub handler_retry: RetryPolicy,
    /// Handler calls in flight at once (each for a different conversation).
    pub concurrency: u32,
    pub stale_reply: StaleReply,
    pub sender: RetryPolicy,
    pub rate_limit: RateLimit,
}

pub const DEFAULT_HANDLER_RETRY: RetryPolicy = RetryPolicy {
    attempts: 5,
    backoff_base_ms: 1_000,
    backoff_max_ms: 300_000,
    timeout_ms: 30_000,
};

pub const DEFAULT_SENDER_RETRY: RetryPolicy = RetryPolicy {
    attempts: 5,
    backoff_base_ms: 1_000,
    backoff_max_ms: 300_000,
    timeout_ms: 15_000,
};

pub const DEFAULT_CONCURRENCY: u32 = 8;
pub const DEFAULT_STALE_REPLY: StaleReply = StaleReply::Merge;

/// The longest backoff or timeout a queue's visibility can express (SQS: 12 hours).
const MAX_VISIBILITY_MS: u64 = 43_200_000;

/// Collects problems, each prefixed with the key path it belongs to.
pub(super) struct Problems<'a> {
    pub prefix: String,
    pub out: &'a mut Vec<String>,
}

impl Problems<'_> {
    fn push(&mut self, key: &str, what: impl std::fmt::Display) {
        let sep = if key.is_empty() { "" } else { "." };
        self.out.push(format!("{}{sep}{key}: {what}", self.prefix));
    }

    fn duration(&mut self, key: &str, raw: &Option<DurationValue>, default: u64) -> u64 {
        match raw.as_ref().map(DurationValue::parse) {
            None => default,
            Some(Ok(d)) => u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            Some(Err(e)) => {
                self.push(key, e);
                default
            }
        }
    }

    fn number(&mut self, key: &str, raw: &Option<toml::Value>) -> Option<f64> {
        match raw {
            None => None,
            Some(toml::Value::Integer(i)) => Some(*i as f64),
            Some(toml::Value::Float(f)) => Some(*f),
            Some(other) => {
                self.push(key, format!("expected a number, got {other}"));
                None
            }
        }
    }
}

impl AppConfig {
    /// This app fully resolved, or every problem found, each naming its key under
    /// `apps.NAME`.
    pub fn spec(&self, name: &str) -> Result<AppSpec, Vec<String>> {
        let mut out = Vec::new();
        let spec = self.build(name, &mut out);
        match spec {
            Some(s) if out.is_empty() => Ok(s),
            _ => Err(out),
        }
    }

    fn build(&self, name: &str, out: &mut Vec<String>) -> Option<AppSpec> {
        let mut p = Problems {
            prefix: format!("apps.{name}"),
            out,
        };
        if !valid_app_name(name) {
            p.push(
                "",
                "an app name is 1 to 60 letters, digits, '-' or '_' (it names the app's queues)",
            );
        }
        let platform = match self.platform.as_deref() {
            None => {
                p.push(
                    "platform",
                    "required: one of whatsapp, telegram, zapi, evolution, instagram, generic",
                );
                None
            }
            Some(raw) => match raw.parse::<Platform>() {
                Ok(pl) => Some(pl),
                Err(e) => {
                    p.push("platform", e);
                    None
                }
            },
        };
        let platform = platform.and_then(|pl| match self.build_platform(pl) {
            Ok(c) => Some(c),
            Err(problems) => {
                for problem in problems {
                    p.out.push(format!("apps.{name}.{problem}"));
                }
                None
            }
        });
        let handler = self.build_handler(&mut p);
        let debounce = self.build_debounce(&mut p);
        let handler_retry =
            self.handler_retry
                .build(&mut p, "handler_retry", &DEFAULT_HANDLER_RETRY);
        let sender = self.sender.build(&mut p, "sender", &DEFAULT_SENDER_RETRY);
        let concurrency = match self.concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(n @ 1..=64) => n,
            Some(n) => {
                p.push("concurrency", format!("expected 1 to 64, got {n}"));
                DEFAULT_CONCURRENCY
            }
        };
        let stale_reply = match self.stale_reply.as_deref() {
            None => DEFAULT_STALE_REPLY,
            Some("send") => StaleReply::Send,
            Some("drop") => StaleReply::Drop,
            Some("merge") => StaleReply::Merge,
            Some(other) => {
                p.push(
                    "stale_reply",
                    format!("expected \"send\", \"drop\" or \"merge\", got {other:?}"),
                );
                DEFAULT_STALE_REPLY
            }
        };
        let mut rate_limit = RateLimit::default();
        for (key, raw, slot) in [
            ("per_app", &self.rate_limit.per_app, &mut rate_limit.per_app),
            (
                "per_recipient",
                &self.rate_limit.per_recipient,
                &mut rate_limit.per_recipient,
            ),
        ] {
            let full = format!("rate_limit.{key}");
            if let Some(n) = p.number(&full, raw) {
                if n.is_finite() && n > 0.0 {
                    *slot = Some(n);
                } else {
                    p.push(
                        &full,
                        format!("expected messages per second above 0, got {n}"),
                    );
                }
            }
        }
        Some(AppSpec {
            name: name.to_owned(),
            platform: platform?,
            handler,
            debounce,
            handler_retry,
            concurrency,
            stale_reply,
            sender,
            rate_limit,
        })
    }

    fn build_handler(&self, p: &mut Problems) -> Option<Handler> {
        let expected = "expected a URL string or { command = [\"program\", \"arg\", ...] }";
        let url = |p: &mut Problems, key: &str, u: &str| {
            if u.starts_with("http://") || u.starts_with("https://") {
                Some(Handler::Url(u.to_owned()))
            } else {
                p.push(
                    key,
                    format!("expected an http:// or https:// URL, got {u:?}"),
                );
                None
            }
        };
        match self.handler.as_ref()? {
            toml::Value::String(u) => url(p, "handler", u),
            toml::Value::Table(t) => {
                for k in t.keys() {
                    if k != "command" && k != "url" {
                        p.push(&format!("handler.{k}"), format!("unknown key; {expected}"));
                    }
                }
                match (t.get("command"), t.get("url")) {
                    (Some(_), Some(_)) => {
                        p.push("handler", "give either command or url, not both");
                        None
                    }
                    (None, Some(toml::Value::String(u))) => url(p, "handler.url", u),
                    (Some(toml::Value::Array(items)), None) => {
                        let argv: Option<Vec<String>> = items
                            .iter()
                            .map(|v| v.as_str().map(str::to_owned))
                            .collect();
                        match argv {
                            Some(argv) if !argv.is_empty() && !argv[0].is_empty() => {
                                Some(Handler::Command(argv))
                            }
                            _ => {
                                p.push(
                                    "handler.command",
                                    "expected a non-empty list of strings: the program and its arguments",
                                );
                                None
                            }
                        }
                    }
                    _ => {
                        p.push("handler", expected);
                        None
                    }
                }
            }
            other => {
                p.push("handler", format!("{expected}, got {other}"));
                None
            }
        }
    }

    pub(super) fn build_debounce(&self, p: &mut Problems) -> DebounceSettings {
        let d = &self.debounce;
        let defaults = DebounceSettings::default();
        let window_ms = p.duration("debounce.window", &d.window, defaults.window_ms);
        let max_wait_ms = p.duration("debounce.max_wait", &d.max_wait, defaults.max_wait_ms);
        if window_ms == 0 {
            p.push("debounce.window", "must be above 0");
        }
        if max_wait_ms < window_ms {
            p.push(
                "debounce.max_wait",
                format!("must be at least the window ({window_ms} ms), got {max_wait_ms} ms"),
            );
        }
        let max_fragments = match d.max_fragments {
            None => defaults.max_fragments,
            Some(n @ 1..=1000) => n,
            Some(n) => {
                p.push(
                    "debounce.max_fragments",
                    format!("expected 1 to 1000, got {n}"),
                );
                defaults.max_fragments
            }
        };
        let media = match d.media.as_deref() {
            None | Some("attach") => MediaPolicy::Attach,
            Some("flush") => MediaPolicy::Flush,
            Some(other) => {
                p.push(
                    "debounce.media",
                    format!("expected \"attach\" or \"flush\", got {other:?}"),
                );
                MediaPolicy::Attach
            }
        };
        let typing_extend_ms = p.duration("debounce.typing_extend", &d.typing_extend, window_ms);
        let adaptive = self.build_adaptive(p, window_ms, max_wait_ms);
        DebounceSettings {
            window_ms,
            max_wait_ms,
            max_fragments,
            media,
            adaptive,
            typing_extend_ms,
        }
    }

    fn build_adaptive(
        &self,
        p: &mut Problems,
        window_ms: u64,
        max_wait_ms: u64,
    ) -> Option<Adaptive> {
        let key = "debounce.adaptive";
        let table = match self.debounce.adaptive.as_ref()? {
            toml::Value::Boolean(false) => return None,
            toml::Value::Boolean(true) => toml::Table::new(),
            toml::Value::Table(t) => t.clone(),
            other => {
                p.push(
                    key,
                    format!("expected true, false or {{ min_window, max_window, factor, smoothing }}, got {other}"),
                );
                return None;
            }
        };
        // Defaults scale with the configured window: between a third of it and three times it.
        let mut a = Adaptive {
            min_window_ms: (window_ms / 3).max(1),
            max_window_ms: window_ms.saturating_mul(3).min(max_wait_ms.max(window_ms)),
            ..Adaptive::default()
        };
        for (k, v) in &table {
            let full = format!("{key}.{k}");
            match k.as_str() {
                "min_window" | "max_window" => {
                    let written = match v {
                        toml::Value::String(s) => DurationValue::Text(s.clone()),
                        toml::Value::Integer(i) => DurationValue::Seconds(*i),
                        _ => {
                            p.push(
                                &full,
                                format!("expected a duration such as \"3s\", got {v}"),
                            );
                            continue;
                        }
                    };
                    let ms = p.duration(&full, &Some(written), 0);
                    if k == "min_window" {
                        a.min_window_ms = ms;
                    } else {
                        a.max_window_ms = ms;
                    }
                }
                "factor" | "smoothing" => {
                    let Some(n) = p.number(&full, &Some(v.clone())) else {
                        continue;
                    };
                    if k == "factor" {
                        if n.is_finite() && n > 0.0 {
                            a.factor = n;
                        } else {
                            p.push(&full, format!("expected a number above 0, got {n}"));
                        }
                    } else if n > 0.0 && n <= 1.0 {
                        a.smoothing = n;
                    } else {
                        p.push(
                            &full,
                            format!("expected a number above 0 and at most 1, got {n}"),
                        );
                    }
                }
                _ => p.push(
                    &full,
                    "unknown key; expected min_window, max_window, factor or smoothing",
                ),
            }
        }
        if a.min_window_ms == 0 || a.min_window_ms > a.max_window_ms {
            p.push(
                key,
                format!(
                    "min_window ({} ms) must be above 0 and at most max_window ({} ms)",
                    a.min_window_ms, a.max_window_ms
                ),
            );
        }
        Some(a)
    }
}

impl super::RetryDecl {
    fn build(&self, p: &mut Problems, table: &str, defaults: &RetryPolicy) -> RetryPolicy {
        let attempts = match self.attempts {
            None => defaults.attempts,
            Some(n @ 1..=1000) => n,
            Some(n) => {
                p.push(
                    &format!("{table}.attempts"),
                    format!("expected 1 to 1000, got {n}"),
                );
                defaults.attempts
            }
        };
        let mut ms = |key: &str, raw: &Option<DurationValue>, default: u64| {
            let full = format!("{table}.{key}");
            let v = p.duration(&full, raw, default);
            if v > MAX_VISIBILITY_MS {
                p.push(
                    &full,
                    "must be at most 12h (the longest visibility timeout)",
                );
                default
            } else {
                v
            }
        };
        let backoff_base_ms = ms("backoff_base", &self.backoff_base, defaults.backoff_base_ms);
        let backoff_max_ms = ms("backoff_max", &self.backoff_max, defaults.backoff_max_ms);
        let timeout_ms = ms("timeout", &self.timeout, defaults.timeout_ms);
        if timeout_ms == 0 {
            p.push(&format!("{table}.timeout"), "must be above 0");
        }
        if backoff_max_ms < backoff_base_ms {
            p.push(
                &format!("{table}.backoff_max"),
                format!("must be at least backoff_base ({backoff_base_ms} ms)"),
            );
        }
        RetryPolicy {
            attempts,
            backoff_base_ms,
            backoff_max_ms,
            timeout_ms,
        }
    }
}

/// App names become queue names (`{app}-inbox.fifo`), so they keep to SQS's characters.
fn valid_app_name(name: &str) -> bool {
    (1..=60).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
