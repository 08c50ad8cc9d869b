//! `[apps.NAME]`: chat apps (platform, handler, sender, debounce).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {}

/// Adds every problem found in `[apps.*]` to `out`, each naming its key.
pub fn validate(_apps: &BTreeMap<String, AppConfig>, _out: &mut Vec<String>) {}
