//! Chat platform adapters: each platform's webhook normalised into [`Event`]s, and each
//! platform's send API as an [`OutboundRequest`]. Pure: no I/O, no clock, no state.
//!
//! A route calls [`PlatformConfig::authenticate`] on the raw body and headers, then
//! [`PlatformConfig::parse`]; the sender calls [`PlatformConfig::build_send`] and
//! [`outbound::classify`] on the answer.

pub mod error;
pub mod evolution;
mod fields;
pub mod generic;
pub mod inbound;
pub mod instagram;
pub mod outbound;
pub mod signature;
pub mod telegram;
pub mod whatsapp;
pub mod zapi;

pub use error::WebhookError;
pub use inbound::{Event, InboundMessage, MediaRef, Part, PartKind, Platform, Typing};
pub use outbound::{classify, OutboundRequest, Retry};

/// One app's platform and its settings.
#[derive(Debug, Clone, PartialEq)]
pub enum PlatformConfig {
    WhatsApp(whatsapp::WhatsAppConfig),
    Zapi(zapi::ZapiConfig),
    Evolution(evolution::EvolutionConfig),
    Telegram(telegram::TelegramConfig),
    Instagram(instagram::InstagramConfig),
    Generic(generic::GenericConfig),
}

impl PlatformConfig {
    pub fn platform(&self) -> Platform {
        match self {
            PlatformConfig::WhatsApp(_) => Platform::WhatsApp,
            PlatformConfig::Zapi(_) => Platform::Zapi,
            PlatformConfig::Evolution(_) => Platform::Evolution,
            PlatformConfig::Telegram(_) => Platform::Telegram,
            PlatformConfig::Instagram(_) => Platform::Instagram,
            PlatformConfig::Generic(_) => Platform::Generic,
        }
    }

    /// Checks whatever proof of origin the platform provides and the app configured:
    /// Meta's HMAC signature, Telegram's secret token, the generic token header. Platforms
    /// with nothing configured pass.
    pub fn authenticate(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let hub = header(signature::HUB_SIGNATURE_HEADER);
        match self {
            PlatformConfig::WhatsApp(c) => match &c.app_secret {
                Some(secret) => signature::verify_hub_signature(secret, hub, body),
                None => Ok(()),
            },
            PlatformConfig::Instagram(c) => match &c.app_secret {
                Some(secret) => signature::verify_hub_signature(secret, hub, body),
                None => Ok(()),
            },
            PlatformConfig::Telegram(c) => {
                telegram::verify_secret_token(c, header(telegram::SECRET_TOKEN_HEADER))
            }
            PlatformConfig::Generic(c) => match &c.token_header {
                Some(name) => generic::verify_token(c, header(name)),
                None => Ok(()),
            },
            PlatformConfig::Zapi(_) | PlatformConfig::Evolution(_) => Ok(()),
        }
    }

    /// The `GET` subscription handshake (WhatsApp Cloud API and Instagram): the challenge to
    /// echo, or `None` to refuse.
    pub fn verify_subscription(&self, query: &str) -> Option<String> {
        let token = match self {
            PlatformConfig::WhatsApp(c) => c.verify_token.as_deref(),
            PlatformConfig::Instagram(c) => c.verify_token.as_deref(),
            _ => None,
        }?;
        whatsapp::verify_subscription_query(query, token)
    }

    pub fn parse(&self, app: &str, body: &[u8]) -> Result<Vec<Event>, WebhookError> {
        match self {
            PlatformConfig::WhatsApp(c) => whatsapp::parse(app, body, c),
            PlatformConfig::Zapi(c) => zapi::parse(app, body, c),
            PlatformConfig::Evolution(c) => evolution::parse(app, body, c),
            PlatformConfig::Telegram(c) => telegram::parse(app, body, c),
            PlatformConfig::Instagram(c) => instagram::parse(app, body, c),
            PlatformConfig::Generic(c) => generic::parse(app, body, c),
        }
    }

    pub fn build_send(&self, recipient: &str, text: &str) -> OutboundRequest {
        match self {
            PlatformConfig::WhatsApp(c) => whatsapp::build_send(c, recipient, text),
            PlatformConfig::Zapi(c) => zapi::build_send(c, recipient, text),
            PlatformConfig::Evolution(c) => evolution::build_send(c, recipient, text),
            PlatformConfig::Telegram(c) => telegram::build_send(c, recipient, text),
            PlatformConfig::Instagram(c) => instagram::build_send(c, recipient, text),
            PlatformConfig::Generic(c) => generic::build_send(c, recipient, text),
        }
    }
}

/// What the adapters' tests share: a webhook that must carry exactly one event, and an event
/// that must be a message.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Event, InboundMessage, WebhookError};

    pub fn single(parsed: Result<Vec<Event>, WebhookError>) -> Event {
        let mut events = parsed.expect("webhook parses");
        assert_eq!(events.len(), 1, "{events:?}");
        events.remove(0)
    }

    pub fn message(event: Event) -> InboundMessage {
        match event {
            Event::Message(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    const WA_TEXT: &str = include_str!("../../tests/fixtures/webhooks/whatsapp/text.json");
    const TG_TEXT: &str = include_str!("../../tests/fixtures/webhooks/telegram/text.json");

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(value) {
                map.insert(*name, v);
            }
        }
        map
    }

    #[test]
    fn authenticate_uses_each_platforms_proof() {
        let mut wa = whatsapp::WhatsAppConfig::new("118273645501928", "t");
        let body = WA_TEXT.as_bytes();
        // Nothing configured: accepted.
        assert!(PlatformConfig::WhatsApp(wa.clone())
            .authenticate(&HeaderMap::new(), body)
            .is_ok());
        wa.app_secret = Some("sec".into());
        let cfg = PlatformConfig::WhatsApp(wa);
        let good = signature::hub_signature("sec", body);
        assert!(cfg
            .authenticate(&headers(&[("x-hub-signature-256", &good)]), body)
            .is_ok());
        let bad = signature::hub_signature("other", body);
        assert_eq!(
            cfg.authenticate(&headers(&[("x-hub-signature-256", &bad)]), body)
                .unwrap_err()
                .status(),
            401
        );
        assert!(cfg.authenticate(&HeaderMap::new(), body).is_err());

        let mut tg = telegram::TelegramConfig::new("1:x");
        tg.secret_token = Some("abc".into());
        let cfg = PlatformConfig::Telegram(tg);
        let tg_body = TG_TEXT.as_bytes();
        assert!(cfg
            .authenticate(
                &headers(&[("x-telegram-bot-api-secret-token", "abc")]),
                tg_body
            )
            .is_ok());
        assert!(cfg
            .authenticate(
                &headers(&[("x-telegram-bot-api-secret-token", "abd")]),
                tg_body
            )
            .is_err());
    }

    #[test]
    fn dispatch_reaches_each_adapter() {
        let cfg = PlatformConfig::Telegram(telegram::TelegramConfig::new("55:x"));
        assert_eq!(cfg.platform(), Platform::Telegram);
        let events = cfg.parse("bot", TG_TEXT.as_bytes()).unwrap();
        assert!(matches!(&events[0], Event::Message(m) if m.account == "55"));
        let req = cfg.build_send("1", "hi");
        assert!(req.url.ends_with("/bot55:x/sendMessage"));

        let mut wa = whatsapp::WhatsAppConfig::new("1", "t");
        wa.verify_token = Some("vt".into());
        let cfg = PlatformConfig::WhatsApp(wa);
        assert_eq!(
            cfg.verify_subscription("hub.mode=subscribe&hub.verify_token=vt&hub.challenge=42")
                .as_deref(),
            Some("42")
        );
        let zapi = PlatformConfig::Zapi(zapi::ZapiConfig::new("i", "t"));
        assert_eq!(zapi.verify_subscription("hub.mode=subscribe"), None);
    }
}
