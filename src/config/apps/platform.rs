//! An app's platform keys mapped onto the adapters' settings (`webhooks::PlatformConfig`).
//! Each platform takes its own keys; a key another platform uses is a mistake worth naming.

use serde::Deserialize;

use super::AppConfig;
use crate::webhooks::{
    evolution::EvolutionConfig, generic::GenericConfig, instagram::InstagramConfig,
    telegram::TelegramConfig, whatsapp::WhatsAppConfig, zapi::ZapiConfig, Platform, PlatformConfig,
};

/// `[apps.NAME.fields]` of the generic platform: JSON pointers (RFC 6901) into the webhook.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericFields {
    pub items: Option<String>,
    pub conversation: Option<String>,
    pub message_id: Option<String>,
    pub text: Option<String>,
    pub timestamp: Option<String>,
    pub sender_name: Option<String>,
    pub account: Option<String>,
    pub from_me: Option<String>,
}

/// The keys each platform takes (besides the common ones).
fn keys_of(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::WhatsApp => &[
            "phone_number_id",
            "access_token",
            "app_secret",
            "verify_token",
            "base_url",
            "api_version",
            "send_url",
        ],
        Platform::Instagram => &[
            "access_token",
            "app_secret",
            "verify_token",
            "account_id",
            "base_url",
            "api_version",
            "send_url",
        ],
        Platform::Zapi => &[
            "instance_id",
            "token",
            "client_token",
            "base_url",
            "allow_groups",
            "send_url",
        ],
        Platform::Evolution => &[
            "base_url",
            "instance",
            "api_key",
            "allow_groups",
            "send_url",
        ],
        Platform::Telegram => &[
            "bot_token",
            "bot_id",
            "secret_token",
            "base_url",
            "allow_groups",
            "send_url",
        ],
        Platform::Generic => &["fields", "send_url", "headers", "token_header", "token"],
    }
}

impl AppConfig {
    /// Every platform key and whether it is set.
    fn platform_keys(&self) -> [(&'static str, bool); 20] {
        [
            ("phone_number_id", self.phone_number_id.is_some()),
            ("access_token", self.access_token.is_some()),
            ("app_secret", self.app_secret.is_some()),
            ("verify_token", self.verify_token.is_some()),
            ("base_url", self.base_url.is_some()),
            ("api_version", self.api_version.is_some()),
            ("send_url", self.send_url.is_some()),
            ("account_id", self.account_id.is_some()),
            ("instance_id", self.instance_id.is_some()),
            ("token", self.token.is_some()),
            ("client_token", self.client_token.is_some()),
            ("allow_groups", self.allow_groups.is_some()),
            ("instance", self.instance.is_some()),
            ("api_key", self.api_key.is_some()),
            ("bot_token", self.bot_token.is_some()),
            ("bot_id", self.bot_id.is_some()),
            ("secret_token", self.secret_token.is_some()),
            ("fields", self.fields.is_some()),
            ("headers", self.headers.is_some()),
            ("token_header", self.token_header.is_some()),
        ]
    }

    /// The adapter settings for `platform`, or every problem with the keys, each naming its key
    /// relative to the app (`bot_token: ...`).
    pub(super) fn build_platform(&self, platform: Platform) -> Result<PlatformConfig, Vec<String>> {
        let mut problems = Vec::new();
        let allowed = keys_of(platform);
        for (key, set) in self.platform_keys() {
            if set && !allowed.contains(&key) {
                problems.push(format!(
                    "{key}: not used by platform {platform} (it takes {})",
                    allowed.join(", ")
                ));
            }
        }
        for (key, url) in [("send_url", &self.send_url), ("base_url", &self.base_url)] {
            if let Some(u) = url {
                if !(u.starts_with("http://") || u.starts_with("https://")) {
                    problems.push(format!(
                        "{key}: expected an http:// or https:// URL, got {u:?}"
                    ));
                }
            }
        }
        let mut required = |key: &str, value: &Option<String>| -> String {
            match value.as_deref().map(str::trim) {
                Some(v) if !v.is_empty() => v.to_owned(),
                _ => {
                    problems.push(format!("{key}: required for platform {platform}"));
                    String::new()
                }
            }
        };
        let groups = self.allow_groups.unwrap_or(false);
        let config = match platform {
            Platform::WhatsApp => {
                let mut c = WhatsAppConfig::new(
                    &required("phone_number_id", &self.phone_number_id),
                    &required("access_token", &self.access_token),
                );
                c.app_secret = self.app_secret.clone();
                c.verify_token = self.verify_token.clone();
                if let Some(b) = &self.base_url {
                    c.base_url = b.clone();
                }
                if let Some(v) = &self.api_version {
                    c.api_version = v.clone();
                }
                c.send_url = self.send_url.clone();
                PlatformConfig::WhatsApp(c)
            }
            Platform::Instagram => {
                let mut c = InstagramConfig::new(&required("access_token", &self.access_token));
                c.app_secret = self.app_secret.clone();
                c.verify_token = self.verify_token.clone();
                if let Some(a) = &self.account_id {
                    c.account_id = a.clone();
                }
                if let Some(b) = &self.base_url {
                    c.base_url = b.clone();
                }
                if let Some(v) = &self.api_version {
                    c.api_version = v.clone();
                }
                c.send_url = self.send_url.clone();
                PlatformConfig::Instagram(c)
            }
            Platform::Zapi => {
                // A complete send URL (the seeds' API_URLS_MAP entry) replaces instance and token.
                let (instance, token) = if self.send_url.is_some() {
                    (
                        self.instance_id.clone().unwrap_or_default(),
                        self.token.clone().unwrap_or_default(),
                    )
                } else {
                    (
                        required("instance_id", &self.instance_id),
                        required("token", &self.token),
                    )
                };
                let mut c = ZapiConfig::new(&instance, &token);
                c.client_token = self.client_token.clone();
                if let Some(b) = &self.base_url {
                    c.base_url = b.clone();
                }
                c.allow_groups = groups;
                c.send_url = self.send_url.clone();
                PlatformConfig::Zapi(c)
            }
            Platform::Evolution => {
                let base = if self.send_url.is_some() {
                    self.base_url.clone().unwrap_or_default()
                } else {
                    required("base_url", &self.base_url)
                };
                let mut c = EvolutionConfig::new(
                    &base,
                    &required("instance", &self.instance),
                    &required("api_key", &self.api_key),
                );
                c.allow_groups = groups;
                c.send_url = self.send_url.clone();
                PlatformConfig::Evolution(c)
            }
            Platform::Telegram => {
                let mut c = TelegramConfig::new(&required("bot_token", &self.bot_token));
                c.bot_id = self.bot_id.clone();
                c.secret_token = self.secret_token.clone();
                if let Some(b) = &self.base_url {
                    c.base_url = b.clone();
                }
                c.allow_groups = groups;
                c.send_url = self.send_url.clone();
                PlatformConfig::Telegram(c)
            }
            Platform::Generic => {
                let f = self.fields.clone().unwrap_or_default();
                let c = GenericConfig {
                    items: f.items,
                    message_id: f.message_id,
                    text: f.text,
                    timestamp: f.timestamp,
                    sender_name: f.sender_name,
                    account: f.account,
                    from_me: f.from_me,
                    send_url: self.send_url.clone(),
                    headers: self.headers.clone().unwrap_or_default(),
                    token_header: self.token_header.clone(),
                    token: self.token.clone(),
                    ..GenericConfig::new(&required("fields.conversation", &f.conversation))
                };
                if let Err(e) = c.validate() {
                    let key = if e.starts_with("token") {
                        ""
                    } else {
                        "fields."
                    };
                    problems.push(format!("{key}{e}"));
                }
                PlatformConfig::Generic(c)
            }
        };
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}
