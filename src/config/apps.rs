//! `[apps.NAME]`: chat apps (platform, handler, sender, debounce).
//!
//! ```toml
//! [apps.patricia]
//! platform = "zapi"
//! handler  = "http://127.0.0.1:8000/bot"        # or { command = ["python3", "bot.py"] }
//! instance_id = "ID"
//! token = "${ZAPI_TOKEN}"
//! stale_reply = "merge"                         # send | drop | merge
//! [apps.patricia.debounce]
//! window = "10s"
//! max_wait = "60s"
//! adaptive = true                               # or { min_window, max_window, factor, smoothing }
//! [apps.patricia.handler_retry]
//! attempts = 5
//! timeout = "30s"
//! [apps.patricia.rate_limit]
//! per_recipient = 1
//! ```
//! The keys as written are kept loosely typed here so that every mistake can be reported at
//! once; [`AppConfig::spec`] turns them into the typed [`AppSpec`] the gateway runs on.

mod platform;
mod spec;

use std::collections::BTreeMap;

use serde::Deserialize;

pub use platform::GenericFields;
pub use spec::{
    AppSpec, Handler, RateLimit, RetryPolicy, StaleReply, DEFAULT_CONCURRENCY,
    DEFAULT_HANDLER_RETRY, DEFAULT_SENDER_RETRY, DEFAULT_STALE_REPLY, VISIBILITY_MARGIN_SECS,
};

use super::duration::DurationValue;
use crate::engine::debounce::DebounceSettings;
use crate::webhooks::{Platform, PlatformConfig};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// whatsapp | telegram | zapi | evolution | instagram | generic
    pub platform: Option<String>,
    /// A URL, or `{ command = [...] }`; none leaves the inbox to any SQS consumer.
    pub handler: Option<toml::Value>,
    /// A complete send URL, replacing the one built from the platform's keys.
    pub send_url: Option<String>,
    /// The platform API's base URL (Evolution's server; others' to point at a proxy or a fake).
    pub base_url: Option<String>,
    // WhatsApp Cloud API and Instagram.
    pub phone_number_id: Option<String>,
    pub access_token: Option<String>,
    pub app_secret: Option<String>,
    pub verify_token: Option<String>,
    pub api_version: Option<String>,
    pub account_id: Option<String>,
    // Z-API (`token` is also the generic platform's webhook token).
    pub instance_id: Option<String>,
    pub token: Option<String>,
    pub client_token: Option<String>,
    // Evolution API.
    pub instance: Option<String>,
    pub api_key: Option<String>,
    // Telegram.
    pub bot_token: Option<String>,
    pub bot_id: Option<String>,
    pub secret_token: Option<String>,
    // Generic JSON.
    pub fields: Option<GenericFields>,
    pub headers: Option<BTreeMap<String, String>>,
    pub token_header: Option<String>,
    /// Buffer group chats (keyed by the group) instead of ignoring them.
    pub allow_groups: Option<bool>,
    #[serde(default)]
    pub debounce: DebounceDecl,
    #[serde(default)]
    pub handler_retry: RetryDecl,
    /// Handler calls in flight at once (default 8).
    pub concurrency: Option<u32>,
    /// send | drop | merge (default merge).
    pub stale_reply: Option<String>,
    #[serde(default)]
    pub sender: RetryDecl,
    #[serde(default)]
    pub rate_limit: RateLimitDecl,
}

/// `[apps.NAME.debounce]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebounceDecl {
    pub window: Option<DurationValue>,
    pub max_wait: Option<DurationValue>,
    /// `true`, `false`, or `{ min_window, max_window, factor, smoothing }`.
    pub adaptive: Option<toml::Value>,
    pub max_fragments: Option<u32>,
    /// attach | flush
    pub media: Option<String>,
    pub typing_extend: Option<DurationValue>,
}

/// `[apps.NAME.handler_retry]` and `[apps.NAME.sender]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryDecl {
    pub attempts: Option<u32>,
    pub backoff_base: Option<DurationValue>,
    pub backoff_max: Option<DurationValue>,
    pub timeout: Option<DurationValue>,
}

/// `[apps.NAME.rate_limit]`, messages per second.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitDecl {
    pub per_app: Option<toml::Value>,
    pub per_recipient: Option<toml::Value>,
}

impl AppConfig {
    /// The app's debounce settings (defaults where a value is missing or invalid; an invalid
    /// `lull.toml` is refused at start anyway).
    pub fn debounce_settings(&self) -> DebounceSettings {
        let mut sink = Vec::new();
        self.build_debounce(&mut spec::Problems {
            prefix: String::new(),
            out: &mut sink,
        })
    }

    /// The app's platform adapter settings; `None` only for an app that failed validation.
    pub fn platform_config(&self) -> Option<PlatformConfig> {
        let platform: Platform = self.platform.as_deref()?.parse().ok()?;
        self.build_platform(platform).ok()
    }
}

/// Adds every problem found in `[apps.*]` to `out`, each naming its key.
pub fn validate(apps: &BTreeMap<String, AppConfig>, out: &mut Vec<String>) {
    for (name, app) in apps {
        if let Err(problems) = app.spec(name) {
            out.extend(problems);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::engine::debounce::MediaPolicy;

    fn parse(toml: &str) -> Result<Config, String> {
        Config::parse("lull.toml", toml).map_err(|e| e.to_string())
    }

    fn spec(toml: &str, app: &str) -> AppSpec {
        let c = parse(toml).unwrap();
        c.apps[app].spec(app).unwrap()
    }

    #[test]
    fn the_design_example_parses_with_defaults() {
        let s = spec(
            r#"
[apps.patricia]
platform = "zapi"
handler  = "http://127.0.0.1:8000/bot"
send_url = "https://api.z-api.io/instances/ID/token/TOKEN/send-text"
[apps.patricia.debounce]
window   = "10s"
max_wait = "60s"
adaptive = true
"#,
            "patricia",
        );
        assert_eq!(
            s.handler,
            Some(Handler::Url("http://127.0.0.1:8000/bot".into()))
        );
        assert_eq!(s.debounce.window_ms, 10_000);
        assert_eq!(s.debounce.max_wait_ms, 60_000);
        assert_eq!(s.debounce.typing_extend_ms, 10_000);
        let a = s.debounce.adaptive.clone().unwrap();
        assert!(
            a.min_window_ms < 10_000 && a.max_window_ms > 10_000,
            "{a:?}"
        );
        assert_eq!(s.stale_reply, StaleReply::Merge);
        assert_eq!(s.handler_retry, DEFAULT_HANDLER_RETRY);
        assert_eq!(s.concurrency, DEFAULT_CONCURRENCY);
        let req = s.platform.build_send("5511", "oi");
        assert_eq!(
            req.url,
            "https://api.z-api.io/instances/ID/token/TOKEN/send-text"
        );
    }

    #[test]
    fn every_setting_is_read() {
        let s = spec(
            r#"
[apps.bot]
platform = "whatsapp"
phone_number_id = "1001"
access_token = "tok"
app_secret = "sec"
verify_token = "vt"
base_url = "http://127.0.0.1:9"
handler = { command = ["python3", "bot.py"] }
stale_reply = "drop"
concurrency = 2
[apps.bot.debounce]
window = "500ms"
max_wait = "5s"
max_fragments = 7
media = "flush"
typing_extend = "2s"
adaptive = { min_window = "200ms", max_window = "3s", factor = 2, smoothing = 0.5 }
[apps.bot.handler_retry]
attempts = 3
backoff_base = "100ms"
backoff_max = "1s"
timeout = "4s"
[apps.bot.sender]
attempts = 2
timeout = "1s"
[apps.bot.rate_limit]
per_app = 20
per_recipient = 0.5
"#,
            "bot",
        );
        assert_eq!(
            s.handler,
            Some(Handler::Command(vec!["python3".into(), "bot.py".into()]))
        );
        assert_eq!(s.stale_reply, StaleReply::Drop);
        assert_eq!(s.concurrency, 2);
        let d = &s.debounce;
        assert_eq!(
            (d.window_ms, d.max_wait_ms, d.max_fragments),
            (500, 5_000, 7)
        );
        assert_eq!(d.media, MediaPolicy::Flush);
        assert_eq!(d.typing_extend_ms, 2_000);
        let a = d.adaptive.clone().unwrap();
        assert_eq!((a.min_window_ms, a.max_window_ms), (200, 3_000));
        assert_eq!((a.factor, a.smoothing), (2.0, 0.5));
        assert_eq!(
            s.handler_retry,
            RetryPolicy {
                attempts: 3,
                backoff_base_ms: 100,
                backoff_max_ms: 1_000,
                timeout_ms: 4_000
            }
        );
        assert_eq!(
            s.handler_retry.visibility_secs(),
            4 + VISIBILITY_MARGIN_SECS
        );
        assert_eq!(s.sender.attempts, 2);
        assert_eq!(s.sender.timeout_ms, 1_000);
        assert_eq!(s.rate_limit.per_app, Some(20.0));
        assert_eq!(s.rate_limit.per_recipient, Some(0.5));
        let PlatformConfig::WhatsApp(w) = &s.platform else {
            panic!("{:?}", s.platform)
        };
        assert_eq!(w.phone_number_id, "1001");
        assert_eq!(w.app_secret.as_deref(), Some("sec"));
        assert_eq!(w.base_url, "http://127.0.0.1:9");
    }

    #[test]
    fn each_platform_maps_its_keys() {
        let c = parse(
            r#"
[apps.tg]
platform = "telegram"
bot_token = "55:abc"
secret_token = "s"
allow_groups = true
[apps.evo]
platform = "evolution"
base_url = "https://evo.example"
instance = "main"
api_key = "k"
[apps.ig]
platform = "instagram"
access_token = "t"
[apps.gen]
platform = "generic"
send_url = "http://127.0.0.1:9/send"
token_header = "X-Token"
token = "t"
headers = { "X-Api-Key" = "k" }
fields = { conversation = "/from", text = "/body", message_id = "/id" }
[apps.zz]
platform = "zapi"
instance_id = "I"
token = "T"
client_token = "C"
"#,
        )
        .unwrap();
        let pc = |n: &str| c.apps[n].platform_config().unwrap();
        let PlatformConfig::Telegram(t) = pc("tg") else {
            panic!()
        };
        assert!(t.allow_groups && t.secret_token.as_deref() == Some("s"));
        assert!(matches!(pc("evo"), PlatformConfig::Evolution(e) if e.instance == "main"));
        assert!(matches!(pc("ig"), PlatformConfig::Instagram(i) if i.account_id == "me"));
        let PlatformConfig::Generic(g) = pc("gen") else {
            panic!()
        };
        assert_eq!(g.conversation, "/from");
        assert_eq!(g.token.as_deref(), Some("t"));
        let req = pc("zz").build_send("5511", "oi");
        assert_eq!(req.header_value("Client-Token"), Some("C"));
        assert!(
            req.url.ends_with("/instances/I/token/T/send-text"),
            "{}",
            req.url
        );
        assert!(c.apps["tg"].spec("tg").unwrap().handler.is_none());
    }

    #[test]
    fn every_mistake_is_reported_with_its_key() {
        let err = parse(
            r#"
[apps.a]
platform = "whatsup"
handler = "ftp://x"
stale_reply = "later"
[apps.a.debounce]
window = "ten"
max_wait = "1s"
media = "keep"
adaptive = { min_window = "2s", speed = 3 }
[apps.a.handler_retry]
attempts = 0
timeout = "13h"
[apps.a.rate_limit]
per_app = "fast"
[apps.b]
platform = "telegram"
phone_number_id = "1"
[apps."bad name"]
platform = "generic"
fields = { conversation = "from" }
"#,
        )
        .unwrap_err();
        for needle in [
            "lull.toml",
            "apps.a.platform: unknown platform \"whatsup\"",
            "apps.a.handler: expected an http:// or https:// URL",
            "apps.a.stale_reply: expected \"send\", \"drop\" or \"merge\"",
            "apps.a.debounce.window: expected a duration",
            "apps.a.debounce.media: expected \"attach\" or \"flush\"",
            "apps.a.debounce.adaptive.speed: unknown key",
            "apps.a.handler_retry.attempts: expected 1 to 1000, got 0",
            "apps.a.handler_retry.timeout: must be at most 12h",
            "apps.a.rate_limit.per_app: expected a number",
            "apps.b.bot_token: required for platform telegram",
            "apps.b.phone_number_id: not used by platform telegram",
            "apps.bad name: an app name is",
            "apps.bad name.fields.conversation: expected a JSON pointer",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
        }
        // max_wait is checked against the window actually in force (the default on a bad one).
        let err = parse("[apps.c]\nplatform = \"telegram\"\nbot_token = \"1:x\"\n[apps.c.debounce]\nwindow = \"5s\"\nmax_wait = \"1s\"\n").unwrap_err();
        assert!(
            err.contains("apps.c.debounce.max_wait: must be at least the window"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse("[apps.a]\nplatform = \"telegram\"\nbot_tokn = \"x\"\n").unwrap_err();
        assert!(err.contains("bot_tokn"), "{err}");
        let err = parse("[apps.a]\nplatform = \"telegram\"\n[apps.a.debounce]\nwindw = \"1s\"\n")
            .unwrap_err();
        assert!(err.contains("windw"), "{err}");
    }

    #[test]
    fn zapi_needs_instance_and_token_unless_a_send_url_is_given() {
        let err = parse("[apps.z]\nplatform = \"zapi\"\n").unwrap_err();
        assert!(
            err.contains("apps.z.instance_id: required") && err.contains("apps.z.token: required"),
            "{err}"
        );
        assert!(
            parse("[apps.z]\nplatform = \"zapi\"\nsend_url = \"http://h/send-text\"\n").is_ok()
        );
    }

    #[test]
    fn debounce_settings_follow_the_config() {
        let c = parse("[apps.a]\nplatform = \"telegram\"\nbot_token = \"1:x\"\n[apps.a.debounce]\nwindow = \"700ms\"\n").unwrap();
        let d = c.apps["a"].debounce_settings();
        assert_eq!(d.window_ms, 700);
        assert_eq!(d.typing_extend_ms, 700);
        assert_eq!(d.max_wait_ms, DebounceSettings::default().max_wait_ms);
        assert!(d.adaptive.is_none());
    }
}
