//! lull: a self-hosted message gateway.
//!
//! Front doors (`sqs`, `sns`, routed by `server`) translate wire protocols into calls on the `engine`,
//! which keeps its state in a `store`. `cli` holds the people's tools that talk to a running
//! server.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod engine;
pub mod gateway;
pub mod metrics;
pub mod resources;
pub mod server;
pub mod sns;
pub mod sqs;
pub mod store;
pub mod webhooks;
pub mod wire;
pub mod workers;
