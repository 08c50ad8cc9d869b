//! How long a conversation is held: one app's debounce settings, with the defaults of the seeds
//! (a 10 s quiet window) and the caps that keep a chatty sender from being held forever.

/// One app's debounce settings (`[apps.NAME.debounce]`).
#[derive(Debug, Clone, PartialEq)]
pub struct DebounceSettings {
    /// Quiet time after the last fragment before the conversation is handed on.
    pub window_ms: u64,
    /// Cap counted from the first fragment: never held longer than this.
    pub max_wait_ms: u64,
    /// Flush at once when this many fragments are buffered.
    pub max_fragments: u32,
    /// What a media fragment does to the batch.
    pub media: MediaPolicy,
    /// `None`: fixed window. `Some`: the window follows each sender's typing cadence.
    pub adaptive: Option<Adaptive>,
    /// How far a typing signal pushes the due time (never past `max_wait_ms`).
    pub typing_extend_ms: u64,
}

pub const DEFAULT_WINDOW_MS: u64 = 10_000;
pub const DEFAULT_MAX_WAIT_MS: u64 = 60_000;
pub const DEFAULT_MAX_FRAGMENTS: u32 = 50;

impl Default for DebounceSettings {
    fn default() -> Self {
        Self {
            window_ms: DEFAULT_WINDOW_MS,
            max_wait_ms: DEFAULT_MAX_WAIT_MS,
            max_fragments: DEFAULT_MAX_FRAGMENTS,
            media: MediaPolicy::Attach,
            adaptive: None,
            typing_extend_ms: DEFAULT_WINDOW_MS,
        }
    }
}

impl DebounceSettings {
    /// Fixed-window settings with the other values at their defaults (typing extends by the
    /// window).
    pub fn fixed(window_ms: u64, max_wait_ms: u64) -> Self {
        Self {
            window_ms,
            max_wait_ms,
            typing_extend_ms: window_ms,
            ..Self::default()
        }
    }
}

/// Adaptive window: `clamp(factor × average gap, min_window_ms, max_window_ms)` once a sender's
/// cadence has at least two samples; the average is an exponentially weighted moving average.
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptive {
    pub min_window_ms: u64,
    pub max_window_ms: u64,
    /// `k`: how many average gaps of silence mean the sender is done.
    pub factor: f64,
    /// EWMA weight of the newest gap (0 < alpha ≤ 1).
    pub smoothing: f64,
}

impl Default for Adaptive {
    fn default() -> Self {
        Self {
            min_window_ms: 3_000,
            max_window_ms: 30_000,
            factor: 2.5,
            smoothing: 0.3,
        }
    }
}

/// What a media fragment (image, audio, video, document, sticker) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaPolicy {
    /// Buffered like text; it travels with the batch.
    #[default]
    Attach,
    /// The batch, including the media fragment, is handed on at once.
    Flush,
}
