//! `lull.toml`: typed, validated at start, every mistake reported at once with the file and key.
//! `${VAR}` anywhere in the file is replaced by that environment variable before parsing.

pub mod apps;
pub mod duration;
pub mod resources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {problems}")]
    Invalid { file: String, problems: String },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    /// Chat apps: `[apps.NAME]`.
    #[serde(default)]
    pub apps: BTreeMap<String, apps::AppConfig>,
    /// Declarative queues: `[queues.NAME]`.
    #[serde(default)]
    pub queues: BTreeMap<String, resources::QueueDecl>,
    /// Declarative topics: `[topics.NAME]`.
    #[serde(default)]
    pub topics: BTreeMap<String, resources::TopicDecl>,
    /// Queue-bound functions: `[functions.NAME]`.
    #[serde(default)]
    pub functions: BTreeMap<String, resources::FunctionDecl>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (overridden by `--listen`).
    pub listen: Option<String>,
    /// Embedded store directory (overridden by `--data`).
    pub data: Option<PathBuf>,
    /// `postgres://…` to keep queues in PostgreSQL, shared by every node using it (overridden
    /// by `--store`).
    pub store: Option<String>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    /// The base URL clients and subscribers reach this server at, for the links lull hands
    /// out; by default `http://` + the listen address.
    pub public_url: Option<String>,
    /// Access keys whose SigV4 signatures are accepted. With none, requests are not verified
    /// (and lull only listens on loopback).
    #[serde(default)]
    pub credentials: Vec<Credential>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let raw = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&file, &raw)
    }

    pub fn parse(file: &str, raw: &str) -> Result<Config, ConfigError> {
        let (text, mut problems) = interpolate(raw);
        let config = match toml::from_str::<Config>(&text) {
            Ok(c) => Some(c),
            Err(e) => {
                problems.push(e.to_string().trim().replace('\n', "\n  "));
                None
            }
        };
        if let Some(c) = &config {
            problems.extend(c.validate());
        }
        match (config, problems.is_empty()) {
            (Some(c), true) => Ok(c),
            _ => Err(ConfigError::Invalid {
                file: file.to_string(),
                problems: problems.join("\n"),
            }),
        }
    }

    fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(l) = &self.server.listen {
            if l.parse::<std::net::SocketAddr>().is_err() {
                out.push(format!(
                    "server.listen: expected an address like 127.0.0.1:4566, got {l:?}"
                ));
            }
        }
        if let Some(a) = &self.server.account_id {
            if a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()) {
                out.push(format!("server.account_id: expected 12 digits, got {a:?}"));
            }
        }
        if let Some(url) = &self.server.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                out.push(format!(
                    "server.public_url: expected an http:// or https:// URL, got {url:?}"
                ));
            }
        }
        if let Some(url) = &self.server.store {
            if !crate::store::postgres::is_postgres_url(url) {
                out.push("server.store: expected a postgres:// or postgresql:// URL".to_string());
            }
        }
        apps::validate(&self.apps, &mut out);
        resources::validate(self, &mut out);
        for (i, c) in self.server.credentials.iter().enumerate() {
            if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
                out.push(format!("server.credentials[{i}]: access_key_id and secret_access_key must not be empty"));
            }
        }
        out
    }
}

/// Replaces `${VAR}` with the variable's value; an unset variable is a problem, named.
fn interpolate(raw: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(raw.len());
    let mut problems = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let name = &after[..end];
                match std::env::var(name) {
                    Ok(v) => out.push_str(&v),
                    Err(_) => problems.push(format!(
                        "environment variable {name} is not set (used as ${{{name}}})"
                    )),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    (out, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_all_reported() {
        let err = Config::parse("lull.toml", "[server]\naccount_id = \"12\"\n").unwrap_err();
        assert!(err.to_string().contains("server.account_id"), "{err}");
        let err = Config::parse("lull.toml", "[server]\nlistne = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
    }

    #[test]
    fn public_url_must_be_http() {
        let c = Config::parse(
            "lull.toml",
            "[server]\npublic_url = \"https://gw.example\"\n",
        )
        .unwrap();
        assert_eq!(c.server.public_url.as_deref(), Some("https://gw.example"));
        let err = Config::parse("lull.toml", "[server]\npublic_url = \"gw\"\n").unwrap_err();
        assert!(err.to_string().contains("server.public_url"), "{err}");
    }

    #[test]
    fn store_must_be_a_postgres_url() {
        let c = Config::parse("lull.toml", "[server]\nstore = \"postgres://db/q\"\n").unwrap();
        assert_eq!(c.server.store.as_deref(), Some("postgres://db/q"));
        let err = Config::parse("lull.toml", "[server]\nstore = \"mysql://db\"\n").unwrap_err();
        assert!(err.to_string().contains("server.store"), "{err}");
    }

    #[test]
    fn environment_variables_are_interpolated() {
        std::env::set_var("LULL_TEST_SECRET", "s3cret");
        let c = Config::parse(
            "lull.toml",
            "[[server.credentials]]\naccess_key_id = \"AK\"\nsecret_access_key = \"${LULL_TEST_SECRET}\"\n",
        )
        .unwrap();
        assert_eq!(c.server.credentials[0].secret_access_key, "s3cret");
        let err = Config::parse(
            "lull.toml",
            "[server]\nregion = \"${LULL_TEST_UNSET_VAR}\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("LULL_TEST_UNSET_VAR"));
    }
}
