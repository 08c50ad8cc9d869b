//! STUB (replaced by the real verifier).
use std::collections::HashMap;
pub struct Credentials(HashMap<String, String>);
impl Credentials {
    pub fn new(it: impl IntoIterator<Item = (String, String)>) -> Self {
        Self(it.into_iter().collect())
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
pub struct RequestParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}
pub struct Identity {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
}
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("x")]
    SignatureDoesNotMatch,
}
impl AuthError {
    pub fn code(&self) -> &'static str {
        "SignatureDoesNotMatch"
    }
    pub fn message(&self) -> String {
        String::new()
    }
}
pub fn verify(
    _r: &RequestParts,
    _c: &Credentials,
    _n: std::time::SystemTime,
) -> Result<Identity, AuthError> {
    Err(AuthError::SignatureDoesNotMatch)
}
pub fn scope(_h: &http::HeaderMap, _q: &str) -> Option<(String, String)> {
    None
}
