//! Per-credential request budget in fixed windows (per node), reported in `X-RateLimit-*` headers.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Keys kept before stale windows are swept (bounds memory under a flood of random tokens).
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug)]
pub struct RateLimiter {
    limit: u32,
    window: Duration,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    used: u32,
}

/// The outcome of one request against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed {
        limit: u32,
        remaining: u32,
    },
    /// Over budget: retry after this many whole seconds (≥ 1).
    Limited {
        limit: u32,
        reset_secs: u64,
    },
}

impl RateLimiter {
    /// `limit == 0` disables limiting.
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter { limit, window, windows: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, key: &str) -> Decision {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Decision {
        if self.limit == 0 {
            return Decision::Allowed { limit: u32::MAX, remaining: u32::MAX };
        }
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, w| now.duration_since(w.started) < self.window);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window { started: now, used: 0 });
        if now.duration_since(window.started) >= self.window {
            *window = Window { started: now, used: 0 };
        }
        if window.used >= self.limit {
            let left = self.window.saturating_sub(now.duration_since(window.started));
            let reset_secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return Decision::Limited { limit: self.limit, reset_secs: reset_secs.max(1) };
        }
        window.used += 1;
        Decision::Allowed { limit: self.limit, remaining: self.limit - window.used }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_spent_then_refilled() {
        let limiter = RateLimiter::new(2, Duration::from_secs(3));
        let start = Instant::now();
        assert_eq!(limiter.check_at("a", start), Decision::Allowed { limit: 2, remaining: 1 });
        assert_eq!(limiter.check_at("a", start), Decision::Allowed { limit: 2, remaining: 0 });
        assert_eq!(
            limiter.check_at("a", start + Duration::from_millis(500)),
            Decision::Limited { limit: 2, reset_secs: 3 }
        );
        assert_eq!(limiter.check_at("b", start), Decision::Allowed { limit: 2, remaining: 1 }, "budgets are per key");
        assert_eq!(limiter.check_at("a", start + Duration::from_secs(3)), Decision::Allowed { limit: 2, remaining: 1 });
    }

    #[test]
    fn reset_is_never_zero() {
        let limiter = RateLimiter::new(1, Duration::from_secs(1));
        let start = Instant::now();
        limiter.check_at("a", start);
        let decision = limiter.check_at("a", start + Duration::from_millis(999));
        assert_eq!(decision, Decision::Limited { limit: 1, reset_secs: 1 });
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0, Duration::from_secs(1));
        for _ in 0..1000 {
            assert!(matches!(limiter.check("a"), Decision::Allowed { .. }));
        }
    }
}
