//! Virtual time for Lambda invocations: the invocations in flight of a
//! simulated or replayed stack, and a clock that only the driver moves. An
//! invocation is a future over in-memory ports, which never wait, so it is
//! pending only while it sleeps in [`Clock::sleep_until`]; the driver moves
//! the clock and polls again. Nothing runs between two instants the driver
//! chooses, so runs are deterministic.
//!
//! Owns: polling the invocations and the virtual clock. May not touch: what
//! the invocations do (the handlers' job), the real clock.

use crate::ports::Clock;
use jiff::Timestamp;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// Invocations in flight, each a future that yields its outcome.
pub struct Invocations<'a, O> {
    running: Vec<Pin<Box<dyn Future<Output = O> + 'a>>>,
}

impl<O> Default for Invocations<'_, O> {
    fn default() -> Self {
        Self { running: Vec::new() }
    }
}

impl<'a, O> Invocations<'a, O> {
    /// Starts an invocation (it runs at the next [`Invocations::poll_all`]).
    pub fn spawn(&mut self, invocation: impl Future<Output = O> + 'a) {
        self.running.push(Box::pin(invocation));
    }

    /// Polls every invocation once, in the order they started; returns the
    /// outcomes of those that finished.
    pub fn poll_all(&mut self) -> Vec<O> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut done = Vec::new();
        self.running.retain_mut(|f| match f.as_mut().poll(&mut cx) {
            Poll::Ready(outcome) => {
                done.push(outcome);
                false
            }
            Poll::Pending => true,
        });
        done
    }

    /// Whether no invocation is in flight.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

/// A clock moved by the driver; it remembers when sleeping invocations
/// want to wake, so the driver can jump from one instant to the next.
#[derive(Debug)]
pub struct VirtualClock {
    now: Mutex<Timestamp>,
    wakes: Mutex<BTreeSet<Timestamp>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VirtualClock {
    /// A clock at `now`.
    #[must_use]
    pub fn at(now: Timestamp) -> Self {
        Self { now: Mutex::new(now), wakes: Mutex::default() }
    }

    /// Moves the clock to `to` (never backwards).
    pub fn set(&self, to: Timestamp) {
        let mut now = lock(&self.now);
        *now = (*now).max(to);
    }

    /// The earliest instant after now at which a sleeper wants to wake.
    #[must_use]
    pub fn next_wake(&self) -> Option<Timestamp> {
        let now = self.now();
        let mut wakes = lock(&self.wakes);
        wakes.retain(|w| *w > now);
        wakes.first().copied()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        *lock(&self.now)
    }

    fn sleep_until(&self, at: Timestamp) -> impl Future<Output = ()> + Send {
        lock(&self.wakes).insert(at);
        Sleep { clock: self, until: at }
    }
}

/// Pending until the clock reaches `until`.
struct Sleep<'c, C> {
    clock: &'c C,
    until: Timestamp,
}

impl<C: Clock> Future for Sleep<'_, C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now() >= self.until {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// A future pending until `clock` reaches `until` (for clocks that the
/// driver moves, such as the simulated world's).
pub fn sleep_until<C: Clock + Sync>(clock: &C, until: Timestamp) -> impl Future<Output = ()> + Send + '_ {
    Sleep { clock, until }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    #[test]
    fn sleepers_wake_when_the_driver_moves_the_clock() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let clock = VirtualClock::at(t0);
        let mut running: Invocations<'_, i64> = Invocations::default();
        running.spawn(async {
            clock.sleep_until(t0 + SignedDuration::from_secs(10)).await;
            clock.now().as_second()
        });
        running.spawn(async { 7 });
        assert_eq!(running.poll_all(), vec![7]);
        assert_eq!(clock.next_wake(), Some(t0 + SignedDuration::from_secs(10)));
        clock.set(t0 + SignedDuration::from_secs(9));
        assert!(running.poll_all().is_empty());
        clock.set(t0 + SignedDuration::from_secs(10));
        assert_eq!(running.poll_all(), vec![1_010]);
        assert!(running.is_empty());
        assert_eq!(clock.next_wake(), None);
    }
}
