//! Message move tasks: moving a dead-letter queue's messages back to their source queues (or to a
//! chosen queue), at an optional rate, cancellable. Tasks live in memory: a restart ends them
//! (the messages already moved stay moved; the rest stay in the dead-letter queue).

use std::time::Duration;

use super::error::{EngineError, EngineResult};
use super::queue::QueueKey;
use super::Engine;
use crate::store::MoveDestination;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveStatus {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
}

impl MoveStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveStatus::Running => "RUNNING",
            MoveStatus::Completed => "COMPLETED",
            MoveStatus::Cancelling => "CANCELLING",
            MoveStatus::Cancelled => "CANCELLED",
            MoveStatus::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone)]
pub struct MoveTask {
    pub handle: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub rate: Option<u32>,
    pub status: MoveStatus,
    pub moved: u64,
    pub to_move: u64,
    pub started_ms: u64,
    pub failure: Option<String>,
}

pub type MoveTaskInfo = MoveTask;

/// Messages moved per store call when no rate is set.
const CHUNK: usize = 256;
const TASKS_KEPT_PER_SOURCE: usize = 10;

impl Engine {
    pub async fn start_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        rate: Option<i64>,
    ) -> EngineResult<String> {
        let not_found = || {
            EngineError::ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
            )
        };
        let source = QueueKey::from_arn(source_arn).ok_or_else(not_found)?;
        self.get_queue(&source).await.map_err(|_| not_found())?;
        if self.dead_letter_sources(&source).await?.is_empty() {
            return Err(EngineError::InvalidParameterValue(
                "Source queue must be configured as a Dead Letter Queue.".into(),
            ));
        }
        let destination = match destination_arn {
            Some(arn) => {
                let k = QueueKey::from_arn(arn).ok_or_else(|| {
                    EngineError::InvalidParameterValue(format!(
                        "Value {arn} for parameter DestinationArn is invalid."
                    ))
                })?;
                self.get_queue(&k).await.map_err(|_| {
                    EngineError::ResourceNotFound("The resource that you specified for the DestinationArn parameter doesn't exist.".into())
                })?;
                MoveDestination::Queue(k)
            }
            None => MoveDestination::Origin,
        };
        let rate = match rate {
            None => None,
            Some(r @ 1..=500) => Some(r as u32),
            Some(r) => {
                return Err(EngineError::InvalidParameterValue(format!(
                    "Value {r} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500."
                )))
            }
        };
        let counts = self.counts(&source).await?;
        let handle = uuid::Uuid::new_v4().to_string();
        {
            let mut tasks = self.inner.move_tasks.lock();
            if tasks
                .iter()
                .any(|t| t.source_arn == source_arn && t.status == MoveStatus::Running)
            {
                return Err(EngineError::UnsupportedOperation(
                    "There is already a task running. Only one active task is allowed for a source queue arn at a given time.".into(),
                ));
            }
            tasks.push(MoveTask {
                handle: handle.clone(),
                source_arn: source_arn.to_string(),
                destination_arn: destination_arn.map(str::to_string),
                rate,
                status: MoveStatus::Running,
                moved: 0,
                to_move: counts.visible + counts.in_flight + counts.delayed,
                started_ms: self.now_ms(),
                failure: None,
            });
            let keep_from = tasks
                .iter()
                .filter(|t| t.source_arn == source_arn)
                .count()
                .saturating_sub(TASKS_KEPT_PER_SOURCE);
            let mut seen = 0;
            tasks.retain(|t| {
                if t.source_arn != source_arn || t.status == MoveStatus::Running {
                    return true;
                }
                seen += 1;
                seen > keep_from
            });
        }
        let engine = self.clone();
        let h = handle.clone();
        tokio::spawn(async move { engine.run_move_task(h, source, destination, rate).await });
        Ok(handle)
    }

    async fn run_move_task(
        &self,
        handle: String,
        source: QueueKey,
        dest: MoveDestination,
        rate: Option<u32>,
    ) {
        let chunk = rate.map_or(CHUNK, |r| r as usize);
        loop {
            if self.task_status(&handle) != Some(MoveStatus::Running) {
                self.update_task(&handle, |t| t.status = MoveStatus::Cancelled);
                return;
            }
            let started = tokio::time::Instant::now();
            match self
                .store()
                .move_messages(&source, &dest, chunk, self.now_ms())
                .await
            {
                Ok(0) => {
                    self.update_task(&handle, |t| {
                        if t.status == MoveStatus::Running {
                            t.status = MoveStatus::Completed;
                        }
                    });
                    return;
                }
                Ok(n) => {
                    self.update_task(&handle, |t| t.moved += n as u64);
                    match &dest {
                        MoveDestination::Queue(k) => self.wake(k),
                        MoveDestination::Origin => self.wake_all(),
                    }
                }
                Err(e) => {
                    self.update_task(&handle, |t| {
                        t.status = MoveStatus::Failed;
                        t.failure = Some(e.to_string());
                    });
                    return;
                }
            }
            if rate.is_some() {
                tokio::time::sleep_until(started + Duration::from_secs(1)).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    }

    fn wake_all(&self) {
        for n in self.inner.waiters.lock().values() {
            n.notify_waiters();
        }
    }

    fn task_status(&self, handle: &str) -> Option<MoveStatus> {
        self.inner
            .move_tasks
            .lock()
            .iter()
            .find(|t| t.handle == handle)
            .map(|t| t.status)
    }

    fn update_task(&self, handle: &str, f: impl FnOnce(&mut MoveTask)) {
        if let Some(t) = self
            .inner
            .move_tasks
            .lock()
            .iter_mut()
            .find(|t| t.handle == handle)
        {
            f(t);
        }
    }

    /// The most recent tasks for a source queue, newest first.
    pub async fn list_move_tasks(
        &self,
        source_arn: &str,
        max: Option<i64>,
    ) -> EngineResult<Vec<MoveTask>> {
        let max = match max {
            None => 1,
            Some(m @ 1..=10) => m as usize,
            Some(m) => {
                return Err(EngineError::InvalidParameterValue(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: Must be between 1 and 10."
            )))
            }
        };
        let source = QueueKey::from_arn(source_arn).ok_or_else(|| {
            EngineError::ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
            )
        })?;
        self.get_queue(&source).await.map_err(|_| {
            EngineError::ResourceNotFound(
                "The resource that you specified for the SourceArn parameter doesn't exist.".into(),
            )
        })?;
        let tasks = self.inner.move_tasks.lock();
        Ok(tasks
            .iter()
            .rev()
            .filter(|t| t.source_arn == source_arn)
            .take(max)
            .cloned()
            .collect())
    }

    /// Asks a running task to stop; returns how many messages it had moved.
    pub async fn cancel_move_task(&self, handle: &str) -> EngineResult<u64> {
        let mut tasks = self.inner.move_tasks.lock();
        match tasks.iter_mut().find(|t| t.handle == handle) {
            Some(t) if t.status == MoveStatus::Running => {
                t.status = MoveStatus::Cancelling;
                Ok(t.moved)
            }
            _ => Err(EngineError::ResourceNotFound(
                "The resource that you specified for the TaskHandle parameter doesn't exist."
                    .into(),
            )),
        }
    }
}
