use tokio::task::JoinHandle;

use super::WorkerCtx;

pub fn spawn(_ctx: &WorkerCtx) -> Vec<JoinHandle<()>> {
    Vec::new()
}
