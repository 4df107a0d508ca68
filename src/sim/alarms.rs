//! The simulated CloudWatch's alarms: those the configuration names (the
//! alarms that drive its step scaling policies, `describe-alarms` output),
//! evaluated as CloudWatch evaluates them — every minute for periods of a
//! minute or more, every 10 s for shorter ones — on the datapoints readable
//! at that moment, and a `CloudWatch Alarm State Change` event sent on every
//! change of state, as CloudWatch sends it to EventBridge
//! (docs/simulation.md, "CloudWatch alarms").
//!
//! Target tracking's `TargetTracking-…` alarms are not here: Application
//! Auto Scaling creates them, the deployed stack does not (the controller
//! emulates them itself, docs/simulation.md).
//!
//! Owns: each alarm's state and the events of its changes. May not touch:
//! the controller (the events reach it only through the template's rules).

use super::cloudwatch::SimCloudWatch;
use crate::config::{AlarmSpec, MetricQuery, TargetConfig};
use crate::decision::AlarmState;
use crate::policy::alarm::AlarmWindow;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

use super::tasks::{ACCOUNT, REGION};

/// One alarm, its query and its state.
struct SimAlarm {
    spec: AlarmSpec,
    query: MetricQuery,
    state: AlarmState,
    /// When the state last changed.
    since: Timestamp,
}

/// The alarms of one simulated account.
pub struct SimAlarms {
    alarms: Vec<SimAlarm>,
    events_sent: u64,
    /// Event ids are `<prefix>-alarm-<n>`, distinct per run.
    prefix: String,
}

impl SimAlarms {
    /// The alarms `target`'s step policies name (each once), all in
    /// `INSUFFICIENT_DATA` at `start`, as a new CloudWatch alarm is.
    #[must_use]
    pub fn of(target: &TargetConfig, prefix: &str, start: Timestamp) -> Self {
        let mut alarms: Vec<SimAlarm> = Vec::new();
        for policy in &target.step {
            let spec = &policy.alarm;
            if alarms.iter().any(|a| a.spec.name == spec.name) {
                continue;
            }
            if let Some(query) = target.queries.get(&spec.metric) {
                alarms.push(SimAlarm {
                    spec: spec.clone(),
                    query: query.clone(),
                    state: AlarmState::InsufficientData,
                    since: start,
                });
            }
        }
        Self { alarms, events_sent: 0, prefix: prefix.to_owned() }
    }

    /// No alarm at all.
    #[must_use]
    pub fn none() -> Self {
        Self { alarms: Vec::new(), events_sent: 0, prefix: String::new() }
    }

    /// Whether there is no alarm to evaluate.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.alarms.is_empty()
    }

    /// Evaluates the alarms due at `now` on what `cloudwatch` can answer
    /// then; the state-change events, in alarm order.
    pub fn evaluate(&mut self, now: Timestamp, cloudwatch: &SimCloudWatch) -> Vec<Value> {
        let mut events = Vec::new();
        let second = now.as_second();
        for alarm in &mut self.alarms {
            let spec = &alarm.spec;
            // CloudWatch evaluates sub-minute alarms every 10 s, others
            // every minute (docs/simulation.md).
            let cadence = if spec.period_seconds < 60 { 10 } else { 60 };
            if second.rem_euclid(cadence) != 0 {
                continue;
            }
            let range =
                i64::from(spec.period_seconds) * (i64::from(spec.evaluation_periods) + AlarmWindow::EXTRA_RANGE);
            let from = now.checked_sub(SignedDuration::from_secs(range)).unwrap_or(now);
            // A query the simulated CloudWatch cannot answer fails the
            // controller's own fetch, which names it; the alarm stays put.
            let Ok(series) = cloudwatch.answer(&alarm.query, second, from, now) else { continue };
            let evaluation = spec.evaluate(&series, now);
            if evaluation.state == alarm.state {
                continue;
            }
            self.events_sent += 1;
            let id = format!("{}-alarm-{:07}", self.prefix, self.events_sent);
            events.push(state_change(&id, alarm, evaluation.state, &evaluation.values, now));
            alarm.state = evaluation.state;
            alarm.since = now;
        }
        events
    }
}

fn state_name(state: AlarmState) -> &'static str {
    match state {
        AlarmState::Ok => "OK",
        AlarmState::Alarm => "ALARM",
        AlarmState::InsufficientData => "INSUFFICIENT_DATA",
    }
}

/// The event CloudWatch sends to EventBridge for a change of state
/// (the shape of AWS's documented example, `tests/fixtures/events/`).
fn state_change(id: &str, alarm: &SimAlarm, to: AlarmState, values: &[f64], now: Timestamp) -> Value {
    let spec = &alarm.spec;
    let arn = format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{}", spec.name);
    let reason = format!(
        "Threshold Crossed: {} datapoints {values:?} evaluated against the threshold ({}) ({} of {} needed)",
        values.len(),
        spec.threshold,
        spec.datapoints_to_alarm,
        spec.evaluation_periods
    );
    let metric = match &alarm.query {
        MetricQuery::Single { namespace, metric_name, dimensions, statistic, period_seconds } => json!([{
            "id": "m1",
            "metricStat": {
                "metric": {
                    "namespace": namespace,
                    "name": metric_name,
                    "dimensions": dimensions.iter().map(|d| (d.name.clone(), Value::from(d.value.clone()))).collect::<serde_json::Map<_, _>>(),
                },
                "period": period_seconds,
                "stat": statistic,
            },
            "returnData": true,
        }]),
        MetricQuery::Math { .. } => json!([]),
    };
    json!({
        "version": "0",
        "id": id,
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": now.to_string(),
        "region": REGION,
        "resources": [arn],
        "detail": {
            "alarmName": spec.name,
            "state": {"value": state_name(to), "reason": reason, "timestamp": now.to_string()},
            "previousState": {"value": state_name(alarm.state), "timestamp": alarm.since.to_string()},
            "configuration": {"metrics": metric},
        },
    })
}
