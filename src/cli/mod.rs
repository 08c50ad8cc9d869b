//! The command line: `lull serve` and the tools that talk to a running server.

pub mod client;
pub mod commands;
pub mod conversations;
