//! The timing math, as pure functions of the buffer, the sender's cadence and the settings.
//!
//! Fixed: due = min(last + window, start + max_wait). Adaptive: the window is
//! `clamp(factor × average gap, min_window, max_window)` once the sender's cadence has two
//! samples; a gap counts as "within a burst" when it is at most `max_window`, so a slow typer
//! whose message a short window split still teaches a longer window. Forced flushes (max
//! fragments, media, admin) pin the due time; later fragments never push it back out.

use super::record::{BufferMeta, Cadence};
use super::settings::{DebounceSettings, MediaPolicy};
use crate::clock::Millis;
use crate::webhooks::Typing;

/// Samples needed before the learned window replaces the configured one.
pub const MIN_SAMPLES: u32 = 2;

/// Folds the gap since the sender's previous fragment into its cadence (adaptive mode only).
pub fn learn(s: &DebounceSettings, cadence: &mut Option<Cadence>, now: Millis) {
    let Some(a) = &s.adaptive else { return };
    match cadence {
        Some(c) => {
            let gap = now.saturating_sub(c.last_at);
            if now >= c.last_at && gap <= a.max_window_ms {
                let gap = gap as f64;
                c.avg_gap_ms = if c.samples == 0 {
                    gap
                } else {
                    a.smoothing * gap + (1.0 - a.smoothing) * c.avg_gap_ms
                };
                c.samples = c.samples.saturating_add(1);
            }
            c.last_at = c.last_at.max(now);
        }
        None => {
            *cadence = Some(Cadence {
                avg_gap_ms: 0.0,
                samples: 0,
                last_at: now,
            })
        }
    }
}

/// The quiet window for a sender with this cadence.
pub fn window(s: &DebounceSettings, cadence: Option<&Cadence>) -> u64 {
    match (&s.adaptive, cadence) {
        (Some(a), Some(c)) if c.samples >= MIN_SAMPLES => {
            let learned = (a.factor * c.avg_gap_ms).max(0.0).round() as u64;
            let (lo, hi) = (a.min_window_ms, a.max_window_ms.max(a.min_window_ms));
            learned.clamp(lo, hi)
        }
        _ => s.window_ms,
    }
}

/// Recomputes the due time from the buffer as it is.
pub fn schedule(
    s: &DebounceSettings,
    meta: &mut BufferMeta,
    cadence: Option<&Cadence>,
    now: Millis,
) {
    meta.window_ms = window(s, cadence);
    if s.max_fragments > 0 && meta.fragments >= s.max_fragments {
        force(meta, now);
    }
    let natural = meta
        .last_at
        .saturating_add(meta.window_ms)
        .min(meta.started_at.saturating_add(s.max_wait_ms));
    meta.due_at = match meta.forced_at {
        Some(f) => natural.min(f),
        None => natural,
    };
}

/// Makes the buffer due now (and keeps it so).
pub fn force(meta: &mut BufferMeta, now: Millis) {
    let at = meta.forced_at.map_or(now, |f| f.min(now));
    meta.forced_at = Some(at);
    meta.due_at = meta.due_at.min(at);
}

/// After a new fragment (received `now`) was appended.
pub fn after_append(
    s: &DebounceSettings,
    meta: &mut BufferMeta,
    cadence: &mut Option<Cadence>,
    now: Millis,
    media: bool,
) {
    learn(s, cadence, now);
    if media && s.media == MediaPolicy::Flush {
        force(meta, now);
    }
    schedule(s, meta, cadence.as_ref(), now);
}

/// After an already-flushed batch was put back in front: it waits a fresh window from now (the
/// newest fragments are recent, and a batch identical to the one flushed must not go out again
/// at once), within `max_wait` of the buffer's start.
pub fn after_restore(
    s: &DebounceSettings,
    meta: &mut BufferMeta,
    cadence: Option<&Cadence>,
    now: Millis,
) {
    meta.last_at = meta.last_at.max(now);
    schedule(s, meta, cadence, now);
}

/// A typing signal: composing or recording pushes the due time out by `typing_extend_ms` from
/// now, never past `max_wait` and never for a forced flush; paused changes nothing.
pub fn after_typing(s: &DebounceSettings, meta: &mut BufferMeta, state: Typing, now: Millis) {
    if state == Typing::Paused || meta.forced_at.is_some() {
        return;
    }
    let cap = meta.started_at.saturating_add(s.max_wait_ms);
    let pushed = now.saturating_add(s.typing_extend_ms).min(cap);
    meta.due_at = meta.due_at.max(pushed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::engine::debounce::settings::Adaptive;
    use crate::webhooks::Platform;

    const T0: Millis = 1_700_000_000_000;

    /// Drives one buffer the way a store does: update the bookkeeping, then plan.
    struct Sim {
        clock: ManualClock,
        s: DebounceSettings,
        meta: Option<BufferMeta>,
        cadence: Option<Cadence>,
    }

    impl Sim {
        fn new(s: DebounceSettings) -> Self {
            Self {
                clock: ManualClock::new(T0),
                s,
                meta: None,
                cadence: None,
            }
        }

        fn at(&self, ms: u64) {
            let now = self.clock.now_ms();
            self.clock.advance_ms(T0 + ms - now);
        }

        fn fragment(&mut self, media: bool) -> Millis {
            let now = self.clock.now_ms();
            let meta = self
                .meta
                .get_or_insert_with(|| BufferMeta::empty(Platform::Zapi, now));
            meta.fragments += 1;
            meta.last_at = now;
            after_append(&self.s, meta, &mut self.cadence, now, media);
            meta.due_at - T0
        }

        fn flushed(&mut self) {
            self.meta = None;
        }
    }

    #[test]
    fn fixed_window_restarts_with_each_fragment() {
        let mut sim = Sim::new(DebounceSettings::fixed(10_000, 60_000));
        assert_eq!(sim.fragment(false), 10_000);
        sim.at(4_000);
        assert_eq!(sim.fragment(false), 14_000);
        sim.at(13_000);
        assert_eq!(sim.fragment(false), 23_000);
    }

    #[test]
    fn max_wait_caps_an_endless_burst() {
        let mut sim = Sim::new(DebounceSettings::fixed(10_000, 25_000));
        sim.fragment(false);
        for t in [8_000, 16_000, 24_000] {
            sim.at(t);
            sim.fragment(false);
        }
        assert_eq!(sim.meta.as_ref().unwrap().due_at - T0, 25_000);
    }

    #[test]
    fn max_fragments_and_media_flush_at_once_and_stay_due() {
        let s = DebounceSettings {
            max_fragments: 3,
            ..DebounceSettings::fixed(10_000, 60_000)
        };
        let mut sim = Sim::new(s.clone());
        sim.fragment(false);
        sim.at(1_000);
        sim.fragment(false);
        sim.at(2_000);
        assert_eq!(sim.fragment(false), 2_000, "third of three is due now");
        sim.at(2_500);
        assert_eq!(
            sim.fragment(false),
            2_000,
            "a later fragment does not postpone it"
        );

        let mut attach = Sim::new(s.clone());
        attach.at(1_000);
        assert_eq!(
            attach.fragment(true),
            11_000,
            "media is attached by default"
        );
        let mut flush = Sim::new(DebounceSettings {
            media: MediaPolicy::Flush,
            ..s
        });
        flush.fragment(false);
        flush.at(1_000);
        assert_eq!(flush.fragment(true), 1_000);
    }

    #[test]
    fn typing_pushes_out_within_max_wait_and_paused_does_nothing() {
        let s = DebounceSettings {
            typing_extend_ms: 8_000,
            ..DebounceSettings::fixed(5_000, 20_000)
        };
        let mut meta = BufferMeta::empty(Platform::Zapi, T0);
        meta.fragments = 1;
        let mut cadence = None;
        after_append(&s, &mut meta, &mut cadence, T0, false);
        assert_eq!(meta.due_at - T0, 5_000);
        after_typing(&s, &mut meta, Typing::Composing, T0 + 4_000);
        assert_eq!(meta.due_at - T0, 12_000);
        after_typing(&s, &mut meta, Typing::Paused, T0 + 11_000);
        assert_eq!(meta.due_at - T0, 12_000);
        after_typing(&s, &mut meta, Typing::Recording, T0 + 1_000);
        assert_eq!(meta.due_at - T0, 12_000, "never pulls the due time in");
        after_typing(&s, &mut meta, Typing::Composing, T0 + 15_000);
        assert_eq!(meta.due_at - T0, 20_000, "capped by max_wait");
        force(&mut meta, T0 + 16_000);
        after_typing(&s, &mut meta, Typing::Composing, T0 + 16_500);
        assert_eq!(meta.due_at - T0, 16_000, "a forced flush is not pushed");
    }

    #[test]
    fn adaptive_learns_a_slow_typer_across_bursts() {
        let a = Adaptive {
            min_window_ms: 2_000,
            max_window_ms: 40_000,
            factor: 2.0,
            smoothing: 0.5,
        };
        let mut sim = Sim::new(DebounceSettings {
            adaptive: Some(a),
            ..DebounceSettings::fixed(10_000, 120_000)
        });
        // A 12 s typer: the fixed 10 s window splits every fragment off on its own.
        assert_eq!(
            sim.fragment(false),
            10_000,
            "no samples yet: the configured window"
        );
        sim.flushed();
        sim.at(12_000);
        assert_eq!(sim.fragment(false), 22_000, "one sample is not enough");
        sim.flushed();
        sim.at(24_000);
        // Two gaps of 12 s: window = 2 × 12 s.
        assert_eq!(sim.fragment(false), 24_000 + 24_000);
        let c = sim.cadence.unwrap();
        assert_eq!((c.samples, c.avg_gap_ms as u64), (2, 12_000));
        assert_eq!(sim.meta.as_ref().unwrap().window_ms, 24_000);
        // A pause longer than max_window starts a new burst: not a sample.
        sim.flushed();
        sim.at(24_000 + 50_000);
        sim.fragment(false);
        assert_eq!(sim.cadence.unwrap().samples, 2);
    }

    #[test]
    fn adaptive_window_is_clamped_and_smoothed() {
        let a = Adaptive {
            min_window_ms: 3_000,
            max_window_ms: 20_000,
            factor: 3.0,
            smoothing: 0.3,
        };
        let s = DebounceSettings {
            adaptive: Some(a),
            ..DebounceSettings::fixed(10_000, 120_000)
        };
        let fast = Cadence {
            avg_gap_ms: 200.0,
            samples: 5,
            last_at: 0,
        };
        assert_eq!(window(&s, Some(&fast)), 3_000);
        let slow = Cadence {
            avg_gap_ms: 15_000.0,
            ..fast
        };
        assert_eq!(window(&s, Some(&slow)), 20_000);
        let mut c = Some(Cadence {
            avg_gap_ms: 1_000.0,
            samples: 3,
            last_at: T0,
        });
        learn(&s, &mut c, T0 + 2_000);
        let c = c.unwrap();
        assert!((c.avg_gap_ms - 1_300.0).abs() < 1e-9, "{c:?}");
        assert_eq!(window(&s, Some(&c)), 3_900);
        assert_eq!(
            window(&DebounceSettings::default(), Some(&c)),
            10_000,
            "fixed mode ignores cadence"
        );
    }

    #[test]
    fn restore_waits_a_fresh_window_within_max_wait() {
        let s = DebounceSettings::fixed(5_000, 30_000);
        let mut meta = BufferMeta::empty(Platform::Zapi, T0);
        meta.fragments = 3;
        meta.last_at = T0 + 2_000;
        after_restore(&s, &mut meta, None, T0 + 10_000);
        assert_eq!(meta.due_at - T0, 15_000);
        after_restore(&s, &mut meta, None, T0 + 28_000);
        assert_eq!(meta.due_at - T0, 30_000);
    }
}
