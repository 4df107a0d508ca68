//! Backoff for the retries the SDK cannot do for us: DynamoDB's
//! `UnprocessedKeys` and EventBridge's failed `PutEvents` entries come back
//! inside a successful answer. Exponential with full jitter, as the SDK's
//! own standard retry mode waits (docs/fleet.md).

use std::time::Duration;

/// The first wait.
const BASE: Duration = Duration::from_millis(50);
/// The longest wait.
const CAP: Duration = Duration::from_secs(2);

/// The wait before retry `round` (1, 2, …): a uniform pick in
/// `[0, min(CAP, BASE × 2^round))`.
#[must_use]
pub fn backoff(round: u32) -> Duration {
    let ceiling = BASE.saturating_mul(1u32 << round.min(16)).min(CAP);
    // Jitter from the clock's nanoseconds: spreading concurrent retries is
    // all it is for, so a random number generator would be overkill.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let spread = u64::from(nanos.wrapping_mul(2_654_435_761) >> 8) % 1_000_000;
    let millis = ceiling.as_micros() as u64 * spread / 1_000_000 / 1000;
    Duration::from_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_under_the_growing_ceiling() {
        for round in 1..20 {
            let ceiling = BASE.saturating_mul(1u32 << round.min(16)).min(CAP);
            assert!(backoff(round) < ceiling.max(Duration::from_millis(1)), "round {round}");
        }
    }
}
