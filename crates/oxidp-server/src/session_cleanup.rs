//! The expired-session cleanup job: every instance runs it; the batches the store hands out keep
//! instances from processing the same session (see `oxidp_core::services::ExpiredSessionCleanup`).

use oxidp_core::services::IdentityServer;
use std::time::Duration;

/// Runs cleanup every `remove_expired_sessions_frequency`, first after a random part of it
/// when `fuzz_expired_session_removal_start` is on. Returns at once when server-side sessions
/// or the job are off.
pub async fn remove_expired_sessions_forever(idp: IdentityServer) {
    let options = &idp.options().server_side_sessions;
    let Some(expiration) = idp.session_expiration.clone() else {
        return;
    };
    if !options.remove_expired_sessions {
        tracing::info!("expired-session cleanup is off");
        return;
    }
    let frequency = options.remove_expired_sessions_frequency;
    if options.fuzz_expired_session_removal_start {
        tokio::time::sleep(random_part_of(frequency)).await;
    }
    let mut interval = tokio::time::interval(frequency);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = expiration.remove_expired_sessions().await {
            tracing::error!(%error, "expired-session cleanup failed; retrying at the next run");
        }
    }
}

/// A uniformly random duration in `[0, of)`.
fn random_part_of(of: Duration) -> Duration {
    let random = u64::from_le_bytes(oxidp_jose::random_bytes::<8>());
    of.mul_f64(random as f64 / (u64::MAX as f64 + 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_delay_stays_within_the_frequency() {
        let of = Duration::from_secs(600);
        let delays: Vec<Duration> = (0..200).map(|_| random_part_of(of)).collect();
        assert!(delays.iter().all(|d| *d < of));
        // Not a constant: 200 draws do not all land in one tenth of the range.
        assert!(delays.iter().any(|d| *d > of / 10) && delays.iter().any(|d| *d < of * 9 / 10));
    }
}
