//! The claim statements: one `UPDATE … RETURNING` hands out messages, after an optional
//! statement in the same transaction moves messages received too often to the dead-letter queue.
//!
//! Standard queues: the oldest visible rows, locked with `FOR UPDATE SKIP LOCKED` so that
//! concurrent claimers on any node take disjoint rows; a row another claimer updated first fails
//! the re-checked `visible_at <= now` and is skipped.
//!
//! FIFO queues: a group with a message in flight is skipped entirely, and from every other group
//! only the run of visible messages from its head on is eligible, groups by the age of their
//! head. Group order cannot be kept with `SKIP LOCKED` (skipping a locked head would deliver its
//! successor), so FIFO claims of one queue are serialised by a transaction-scoped advisory lock.

use super::rows::message_columns;
use super::schema::in_schema;

/// Statement texts for one schema.
#[derive(Debug)]
pub struct ClaimSql {
    pub standard: String,
    pub standard_dead: String,
    pub fifo: String,
    pub fifo_dead: String,
    pub lock_queue: String,
}

/// Parameters of the claim statements: $1 queue id, $2 now, $3 limit, $4 visibility (ms),
/// $5 receive count from which a message is dead-lettered instead (i32::MAX without a
/// dead-letter queue), $6 nonce.
const CLAIM_SET: &str = "
UPDATE {s}.messages m
   SET visible_at = $2 + $4,
       in_flight = TRUE,
       nonce = $6,
       receive_count = m.receive_count + 1,
       first_receive_ms = COALESCE(m.first_receive_ms, $2)
  FROM picked
 WHERE m.queue_id = $1 AND m.seq = picked.seq
RETURNING ";

const STANDARD_PICK: &str = "
WITH picked AS (
    SELECT seq FROM {s}.messages
     WHERE queue_id = $1 AND visible_at <= $2 AND receive_count < $5
     ORDER BY seq
     LIMIT $3
       FOR UPDATE SKIP LOCKED
)";

/// Groups with a message in flight are left out. Candidate groups come from the oldest visible
/// messages (a bounded scan: the oldest heads are among them), and of each candidate only its
/// first $3 messages are read, so a claim costs the same on a backlog of any size. Of those,
/// the run from the head up to `blocked_at` is eligible: the first message that must not be
/// passed, because it is invisible or (with $5) due for the dead-letter queue.
const FIFO_PICK: &str = "
WITH busy AS (
    SELECT DISTINCT group_id FROM {s}.messages
     WHERE queue_id = $1 AND in_flight AND visible_at > $2
),
candidates AS (
    SELECT DISTINCT group_id FROM (
        SELECT group_id FROM {s}.messages m
         WHERE queue_id = $1 AND visible_at <= $2
           AND NOT EXISTS (SELECT 1 FROM busy b WHERE b.group_id = m.group_id)
         ORDER BY seq
         LIMIT $3::bigint * 10
    ) oldest
),
fronts AS (
    SELECT c.group_id, f.seq, f.visible_at, f.receive_count
      FROM candidates c
     CROSS JOIN LATERAL (
        SELECT seq, visible_at, receive_count FROM {s}.messages
         WHERE queue_id = $1 AND group_id = c.group_id
         ORDER BY seq
         LIMIT $3
     ) f
),
runs AS (
    SELECT seq,
           min(seq) OVER w AS head,
           min(CASE WHEN visible_at > $2 OR receive_count >= $5 THEN seq END) OVER w AS blocked_at
      FROM fronts
    WINDOW w AS (PARTITION BY group_id)
),
picked AS (
    SELECT seq FROM runs
     WHERE blocked_at IS NULL OR seq < blocked_at
     ORDER BY head, seq
     LIMIT $3
)";

/// Parameters of the dead-letter statements: $1 queue id, $2 now, $3 receive count from which a
/// message is moved, $4 limit, $5 dead-letter queue id, $6 source queue ARN.
const DEAD_SET: &str = "
UPDATE {s}.messages m
   SET queue_id = $5,
       visible_at = $2,
       in_flight = FALSE,
       receive_count = 0,
       first_receive_ms = NULL,
       dead_letter_source = $6
  FROM dead
 WHERE m.queue_id = $1 AND m.seq = dead.seq";

const STANDARD_DEAD: &str = "
WITH dead AS (
    SELECT seq FROM {s}.messages
     WHERE queue_id = $1 AND visible_at <= $2 AND receive_count >= $3
     ORDER BY seq
     LIMIT $4
       FOR UPDATE SKIP LOCKED
)";

/// Visible messages of groups without a message in flight that are due for the dead-letter
/// queue; a group's later messages wait behind them (see `blocked_at`).
const FIFO_DEAD: &str = "
WITH dead AS (
    SELECT seq FROM {s}.messages m
     WHERE queue_id = $1 AND visible_at <= $2 AND receive_count >= $3
       AND NOT EXISTS (
           SELECT 1 FROM {s}.messages f
            WHERE f.queue_id = $1 AND f.in_flight AND f.visible_at > $2
              AND f.group_id = m.group_id)
     ORDER BY seq
     LIMIT $4
)";

impl ClaimSql {
    pub fn new(schema: &str) -> Self {
        let returning = message_columns("m.");
        let claim = |pick: &str| in_schema(schema, &format!("{pick}{CLAIM_SET}{returning}"));
        let dead = |pick: &str| in_schema(schema, &format!("{pick}{DEAD_SET}"));
        Self {
            standard: claim(STANDARD_PICK),
            standard_dead: dead(STANDARD_DEAD),
            fifo: claim(FIFO_PICK),
            fifo_dead: dead(FIFO_DEAD),
            // Keyed by schema and queue: two-key advisory locks live apart from the one-key kind.
            lock_queue: in_schema(
                schema,
                "SELECT pg_advisory_xact_lock(hashtext('{s}'), ($1::bigint % 2147483647)::integer)",
            ),
        }
    }
}
