//! How many requests one registry gets at once: additive increase while its answers stay
//! as fast as the fastest seen, halved on every 429 (or 503). A registry that rate-limits
//! is slowed down instead of retried into a storm; one that keeps up is given more.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a registry starts, and the bounds it moves between.
pub const INITIAL: usize = 64;
pub const MAX: usize = 128;

#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
    released: tokio::sync::Notify,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_flight: usize,
    /// The fastest answer since the last halving: "latency holds" means within 2× of it
    /// (plus 5 ms, so loopback jitter counts as holding).
    fastest: Option<Duration>,
    /// Fast answers since the limit last moved; a limit's worth of them grows it by one.
    streak: usize,
    /// Times the limit was halved, for the bench and tests.
    throttled: usize,
}

/// One request's place; gives it back on drop.
#[must_use]
pub struct Permit {
    limiter: Arc<Limiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut s) = self.limiter.state.lock() {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        // One place freed, one waiter woken (waking them all costs a poll of every
        // waiting request per answer).
        self.limiter.released.notify_one();
    }
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(INITIAL)
    }
}

impl Limiter {
    pub fn new(limit: usize) -> Self {
        let limit = limit.clamp(1, MAX);
        Limiter {
            state: Mutex::new(State { limit, in_flight: 0, fastest: None, streak: 0, throttled: 0 }),
            released: tokio::sync::Notify::new(),
        }
    }

    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            // Registered before the check: a release between the check and the wait
            // still wakes it.
            let released = self.released.notified();
            let mut released = std::pin::pin!(released);
            released.as_mut().enable();
            {
                let Ok(mut s) = self.state.lock() else { break };
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    break;
                }
            }
            released.await;
        }
        Permit { limiter: self.clone() }
    }

    /// A `200` came back after `latency`.
    pub fn answered(&self, latency: Duration) {
        let Ok(mut s) = self.state.lock() else { return };
        let fastest = *s.fastest.get_or_insert(latency);
        if latency < fastest {
            s.fastest = Some(latency);
        }
        if latency <= fastest * 2 + Duration::from_millis(5) {
            s.streak += 1;
            if s.streak >= s.limit && s.limit < MAX {
                s.limit += 1;
                s.streak = 0;
                drop(s);
                self.released.notify_waiters();
            }
        } else {
            s.streak = 0;
        }
    }

    /// The registry said 429 (or 503): halve. Every one halves, so a registry that
    /// refuses a burst is down to one request at a time within that burst, before the
    /// refused requests' retries (a few per request) run out; it grows back additively.
    pub fn throttle(&self) {
        let Ok(mut s) = self.state.lock() else { return };
        s.limit = (s.limit / 2).max(1);
        s.streak = 0;
        s.throttled += 1;
        // Latency under the old load says nothing about the new one: learn it again.
        s.fastest = None;
    }

    /// (current limit, times halved).
    pub fn status(&self) -> (usize, usize) {
        self.state.lock().map(|s| (s.limit, s.throttled)).unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn halves_on_throttle_and_grows_back_while_fast() {
        let l = Limiter::new(8);
        l.throttle();
        l.throttle();
        assert_eq!(l.status(), (2, 2));
        for _ in 0..2 {
            l.answered(Duration::from_millis(1));
        }
        assert_eq!(l.status().0, 3);
        // Slow answers (latency not holding) do not grow it.
        for _ in 0..10 {
            l.answered(Duration::from_millis(500));
        }
        assert_eq!(l.status().0, 3);
        for _ in 0..20 {
            l.throttle();
        }
        assert_eq!(l.status().0, 1);
    }

    #[test]
    fn never_more_in_flight_than_the_limit() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let l = Arc::new(Limiter::new(3));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let now = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        rt.block_on(async {
            let tasks: Vec<_> = (0..40)
                .map(|_| {
                    let (l, peak, now) = (l.clone(), peak.clone(), now.clone());
                    tokio::spawn(async move {
                        let _p = l.acquire().await;
                        let n = now.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                        peak.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        });
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 3);
    }
}
