//! The one claim-then-act loop both handlers run for each unit of work (a
//! scalable target, a capacity provider):
//!
//! ```text
//! load record (version v) ─► admit the event (ledger) ─► read the world and decide
//!   ─► save record' if still v (conflict: reload, decide again)
//!   ─► act (failure: put record v back, retried; report what happened) ─► the decision
//! ```
//!
//! Owns: that order, the retry on conflicts and the restore on a failed
//! action. May not touch: what is read or decided (the [`Work`]'s job), the
//! clock, I/O other than through the ports.

use super::{admit, encode, load, HandlerError, Refusal, Schema, Settings};
use crate::decision::Deferral;
use crate::event::Event;
use crate::memory::EventLedger;
use crate::ports::{PortError, SaveOutcome, StatePort};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;

/// How often a restore write is tried before the failure is reported.
const RESTORE_ATTEMPTS: u32 = 3;

/// One unit of work under one stored record.
pub(super) trait Work {
    /// What is stored under the key.
    type Record: Serialize + DeserializeOwned + Default + Clone + Send + Sync + super::Schema;
    /// What deciding produced.
    type Decision: Send;

    /// The record's ledger of processed events.
    fn ledger(record: &mut Self::Record) -> &mut EventLedger;

    /// Reads what the decision needs and decides, updating `record`.
    /// `Ok(None)`: nothing to decide now (no write, no action).
    fn decide(
        &self,
        now: Timestamp,
        record: &mut Self::Record,
    ) -> impl Future<Output = Result<Option<Self::Decision>, HandlerError>> + Send;

    /// Takes from the round's API budget what acting on `decision` costs;
    /// `Err`: the budget is spent, so nothing is recorded or applied and the
    /// next round decides again.
    fn reserve(&self, _decision: &Self::Decision) -> Result<(), Deferral> {
        Ok(())
    }

    /// Applies the decision's actions in order. On a failure: the failed
    /// action, described, and its error.
    fn act(&self, decision: &Self::Decision) -> impl Future<Output = Result<(), (String, PortError)>> + Send;
}

/// What one claim produced.
pub(super) enum Claimed<D> {
    /// Decided, recorded and (outside shadow mode) applied.
    Done(D),
    /// The ledger refused the event.
    Refused(Refusal),
    /// [`Work::decide`] had nothing to decide.
    Nothing,
    /// Decided, but the API budget held it back: nothing recorded or applied.
    Deferred(D, Deferral),
}

/// Where and when a claim runs: the record's key, the target it names, the
/// evaluation time and the event being handled (none for a tick).
#[derive(Clone, Copy)]
pub(super) struct Claim<'a> {
    pub key: &'a str,
    pub target: &'a str,
    pub now: Timestamp,
    pub event: Option<&'a Event>,
}

/// Runs `work` under the record stored at `claim.key`; `preloaded` is that
/// record and its version when the caller has just read it (a batched read),
/// used for the first attempt only.
///
/// # Errors
/// Port failures, an unreadable record, lost conditional writes
/// ([`HandlerError::Contention`]) and failed actions
/// ([`HandlerError::ActionFailed`], saying whether the previous record could
/// be put back).
pub(super) async fn claim_then_act<W, T>(
    work: &W,
    state: &T,
    claim: Claim<'_>,
    settings: Settings,
    mut preloaded: Option<(W::Record, Option<u64>)>,
) -> Result<Claimed<W::Decision>, HandlerError>
where
    W: Work + Sync,
    T: StatePort + Sync,
{
    let Claim { key, target, now, event } = claim;
    let attempts = settings.max_attempts.max(1);
    for _attempt in 0..attempts {
        let (previous, version) = match preloaded.take() {
            Some(read) => read,
            None => load::<W::Record, _>(state, key).await?,
        };
        let mut record = previous.clone();
        if let Some(e) = event {
            if let Err(refusal) = admit(W::ledger(&mut record), e, now) {
                return Ok(Claimed::Refused(refusal));
            }
        }
        let Some(decision) = work.decide(now, &mut record).await? else {
            return Ok(Claimed::Nothing);
        };
        if !settings.shadow {
            if let Err(deferral) = work.reserve(&decision) {
                return Ok(Claimed::Deferred(decision, deferral));
            }
        }
        // Every write keeps the ledger within its budget, ticks included,
        // and stamps the schema this build writes.
        W::ledger(&mut record).prune(now);
        record.set_schema(super::RECORD_SCHEMA);
        let claimed = match state.save(key, &encode(&record, key)?, version, now).await? {
            SaveOutcome::Conflict => continue,
            SaveOutcome::Saved { version } => version,
        };
        if !settings.shadow {
            if let Err((action, source)) = work.act(&decision).await {
                let restored = restore(state, key, &previous, claimed, now).await?;
                return Err(HandlerError::ActionFailed { target: target.to_owned(), action, source, restored });
            }
        }
        return Ok(Claimed::Done(decision));
    }
    Err(HandlerError::Contention { key: key.to_owned(), attempts })
}

/// Puts the previous record back after a failed action, so the event stays
/// unprocessed and no cooldown starts: the retry acts. Whether it could be
/// put back: `false` when someone wrote meanwhile (their record stands and
/// the retry decides on it) or the writes kept failing.
async fn restore<R: Serialize, T: StatePort + Sync>(
    state: &T,
    key: &str,
    previous: &R,
    claimed: u64,
    now: Timestamp,
) -> Result<bool, HandlerError> {
    let body = encode(previous, key)?;
    for _ in 0..RESTORE_ATTEMPTS {
        match state.save(key, &body, Some(claimed), now).await {
            Ok(SaveOutcome::Saved { .. }) => return Ok(true),
            Ok(SaveOutcome::Conflict) => return Ok(false),
            Err(_) => continue,
        }
    }
    Ok(false)
}
