//! Request authentication: SigV4 verification when access keys are configured.

pub mod sigv4;

pub use sigv4::Credentials;
