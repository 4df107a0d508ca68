//! Fleet scale through the production handler over in-memory ports: one
//! tick batches its reads and publications, the API budget defers what it
//! cannot pay for (recorded, never lost), and a tick naming a shard
//! evaluates that shard alone (docs/fleet.md). Virtual time only.

use ecs_autopilot::config::{self, Config, MetricId};
use ecs_autopilot::handler::{
    block_on, handle_event, target_key, ApiBudget, Report, ServicePorts, Settings, Shard, TargetRecord,
};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::memory::{FakeServices, InMemoryState, RecordingDecisions, StaticMetrics};
use ecs_autopilot::ports::ServiceSnapshot;
use jiff::{SignedDuration, Timestamp};
use serde_json::{json, Value};

fn start() -> Timestamp {
    "2026-12-06T10:00:00Z".parse().unwrap()
}

/// `services` services named `service/c<k>/svc-<i>` over `clusters`
/// clusters, each with fast-mode target tracking on CPU at 50 %.
fn fleet(services: usize, clusters: usize) -> (Config, Vec<String>) {
    let ids: Vec<String> = (0..services).map(|i| format!("service/c{}/svc-{i}", i % clusters)).collect();
    let targets: Vec<Value> =
        ids.iter().map(|id| json!({"ResourceId": id, "MinCapacity": 1, "MaxCapacity": 50})).collect();
    let policies: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"PolicyName": format!("cpu-{i}"), "ResourceId": id, "PolicyType": "TargetTrackingScaling",
                "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}})
        })
        .collect();
    let doc = json!({"ScalableTargets": targets, "ScalingPolicies": policies,
        "Autopilot": {"Defaults": {"EvaluationMode": "fast"}}});
    (config::load_str(&doc.to_string()).unwrap(), ids)
}

/// Every service at 4 tasks and 90 % CPU: fast mode wants 8 each
/// (docs/configuration.md, "fast mode").
struct World {
    config: Config,
    ids: Vec<String>,
    services: FakeServices,
    metrics: StaticMetrics,
    state: InMemoryState,
    decisions: RecordingDecisions,
}

impl World {
    fn hot(services: usize, clusters: usize) -> Self {
        let (config, ids) = fleet(services, clusters);
        let fake = FakeServices::default();
        for id in &ids {
            fake.services
                .lock()
                .unwrap()
                .insert(id.clone(), ServiceSnapshot { desired: 4, running: 4, ..Default::default() });
        }
        let cpu = MetricId("ECSServiceAverageCPUUtilization".into());
        let points = (1..=30)
            .map(|k| Datapoint { timestamp: start().checked_sub(SignedDuration::from_mins(k)).unwrap(), value: 90.0 })
            .collect();
        Self {
            config,
            ids,
            services: fake,
            metrics: StaticMetrics::new([(cpu, points)].into()),
            state: InMemoryState::default(),
            decisions: RecordingDecisions::default(),
        }
    }

    fn tick(&self, at: Timestamp, settings: Settings, detail: Value) -> Report {
        let event = json!({"version": "0", "id": format!("tick-{}", at.as_second()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": at.to_string(), "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/autopilot-tick"], "detail": detail});
        let ports = ServicePorts {
            services: &self.services,
            metrics: &self.metrics,
            state: &self.state,
            decisions: &self.decisions,
        };
        block_on(handle_event(at, &self.config, settings, &ports, &event)).unwrap()
    }

    fn decided(report: &Report) -> Vec<String> {
        let mut ids: Vec<String> = report.decisions.iter().map(|d| d.service.clone()).collect();
        ids.sort();
        ids
    }
}

fn one_round() -> Settings {
    Settings { poll_window_seconds: 0, ..Settings::default() }
}

#[test]
fn one_tick_batches_every_read_and_publication_across_the_fleet() {
    // 25 services: 13 in c0, 12 in c1.
    let w = World::hot(25, 2);
    let report = w.tick(start(), one_round(), json!({}));
    assert_eq!(report.decisions.len(), 25, "every target is evaluated");
    assert!(report.decisions.iter().all(|d| d.desired == 8 && d.deferred.is_none()));
    assert_eq!(w.services.updates().len(), 25);
    // DescribeServices: 10 a call, per cluster (13 → 10 + 3, 12 → 10 + 2).
    let mut describes = w.services.describes.lock().unwrap().clone();
    describes.sort_unstable();
    assert_eq!(describes, vec![2, 3, 10, 10]);
    // GetMetricData: every target's queries in one request (fast mode reads
    // the metric and its SampleCount: two a target).
    let fetches = w.metrics.fetches();
    assert_eq!(fetches.len(), 1);
    assert_eq!(fetches[0].1.len(), 50);
    // BatchGetItem: every record in one call; PutEvents: 10 a call.
    assert_eq!(*w.state.batch_loads.lock().unwrap(), vec![25]);
    assert_eq!(*w.decisions.batches.lock().unwrap(), vec![10, 10, 5]);
    // Each target keeps its own record.
    for id in &w.ids {
        let record: TargetRecord = serde_json::from_str(&w.state.get(&target_key(id)).unwrap().body).unwrap();
        assert_eq!(record.memory.last_scale_out.map(|r| r.to), Some(8), "{id}");
    }
}

#[test]
fn the_update_budget_defers_the_rest_records_why_and_the_next_tick_takes_them() {
    let w = World::hot(3, 1);
    let budget = ApiBudget { update_service: 2, ..ApiBudget::default() };
    let settings = Settings { budget, ..one_round() };
    let first = w.tick(start(), settings, json!({}));
    assert_eq!(w.services.updates().len(), 2, "two UpdateService calls are all the round may make");
    assert_eq!(first.deferred.len(), 1);
    let deferred = &first.deferred[0];
    assert_eq!((deferred.deferral.api.as_str(), deferred.deferral.budget), ("ecs:UpdateService", 2));
    // The decision record says the target was deferred; nothing of it is
    // recorded, so the next round decides it afresh.
    let record = first.decisions.iter().find(|d| d.service == deferred.target).unwrap();
    assert_eq!(record.deferred.as_ref().map(|d| d.api.as_str()), Some("ecs:UpdateService"));
    assert!(w.state.get(&target_key(&deferred.target)).is_none(), "a deferred target's record is not written");
    let published = w.decisions.published.lock().unwrap().clone();
    let said = published.iter().find(|(_, r)| r["service"] == deferred.target.as_str()).unwrap();
    assert_eq!(said.1["deferred"]["api"], "ecs:UpdateService");

    let next = w.tick(start().checked_add(SignedDuration::from_mins(1)).unwrap(), settings, json!({}));
    assert!(next.deferred.is_empty(), "{:?}", next.deferred);
    let updated: Vec<String> = w.services.updates().into_iter().map(|(id, _)| id).collect();
    assert!(updated.contains(&deferred.target), "the next tick acts on the deferred target: {updated:?}");
}

#[test]
fn the_describe_budget_defers_whole_calls_of_ten() {
    let w = World::hot(25, 1);
    let budget = ApiBudget { describe_services: 2, ..ApiBudget::default() };
    let report = w.tick(start(), Settings { budget, ..one_round() }, json!({}));
    assert_eq!(*w.services.describes.lock().unwrap(), vec![10, 10]);
    assert_eq!(report.deferred.len(), 5);
    assert!(report.deferred.iter().all(|d| d.deferral.api == "ecs:DescribeServices" && d.deferral.budget == 2));
    assert_eq!(report.decisions.iter().filter(|d| d.deferred.is_none()).count(), 20);
}

#[test]
fn a_tick_naming_a_shard_evaluates_that_shard_alone_and_the_shards_cover_the_fleet() {
    let w = World::hot(40, 3);
    let mut covered = Vec::new();
    for index in 0..3 {
        let report = w.tick(start(), one_round(), json!({"shard": format!("{index}/3")}));
        let shard = Shard::new(index, 3).unwrap();
        let decided = World::decided(&report);
        assert!(!decided.is_empty(), "shard {index} has targets");
        assert!(decided.iter().all(|id| shard.owns(id)), "shard {index} evaluated {decided:?}");
        covered.extend(decided);
    }
    covered.sort();
    let mut all = w.ids.clone();
    all.sort();
    assert_eq!(covered, all, "the shards split the fleet: each target once");
}

#[test]
fn the_functions_own_shard_applies_when_the_tick_names_none() {
    let w = World::hot(20, 2);
    let shard = Shard::new(1, 2).unwrap();
    let report = w.tick(start(), Settings { shard, ..one_round() }, json!({}));
    let decided = World::decided(&report);
    let expected: Vec<String> = {
        let mut v: Vec<String> = w.ids.iter().filter(|id| shard.owns(id)).cloned().collect();
        v.sort();
        v
    };
    assert_eq!(decided, expected);
}

#[test]
fn a_malformed_shard_in_the_tick_is_ignored_naming_the_field() {
    let w = World::hot(5, 1);
    for (detail, why) in [
        (json!({"shard": "3/2"}), "detail.shard: shard 3 of 2"),
        (json!({"shard": "two"}), "detail.shard: \"two\" is not <index>/<count>"),
        (json!({"shard": 1}), "detail.shard: not a string but 1"),
    ] {
        let report = w.tick(start(), one_round(), detail.clone());
        assert!(report.decisions.is_empty(), "{detail}");
        assert_eq!(report.ignored.len(), 1, "{detail}");
        assert!(report.ignored[0].reason.contains(why), "{detail}: {}", report.ignored[0].reason);
    }
    assert!(w.services.updates().is_empty());
}

#[test]
fn the_ticks_polls_take_what_the_budget_deferred_so_the_whole_fleet_is_done_within_the_minute() {
    // aws mode with 60-s alarms: these targets are not polled for new data,
    // only for what a round owes them.
    let (mut config, ids) = fleet(25, 1);
    for target in config.targets.values_mut() {
        target.extensions.mode = ecs_autopilot::config::EvaluationMode::Aws;
    }
    let w = World { config, ids, ..World::hot(25, 1) };
    let clock = ecs_autopilot::ports::memory::JumpingClock::at(start());
    let budget = ApiBudget { describe_services: 1, ..ApiBudget::default() };
    let settings = Settings { budget, poll_window_seconds: 50, ..Settings::default() };
    let ports = ServicePorts { services: &w.services, metrics: &w.metrics, state: &w.state, decisions: &w.decisions };
    let tick = json!({"version": "0", "id": "tick-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": start().to_string(), "region": "us-east-1", "resources": [], "detail": {}});
    let report = block_on(ecs_autopilot::handler::invoke(&clock, &w.config, settings, &ports, &tick)).unwrap();
    // One DescribeServices call (10 services) a round; a round that
    // deferred targets is followed after the bucket regains the budget
    // (1 call: 1 s), so rounds at 0, 1 and 2 s.
    assert_eq!(*w.services.describes.lock().unwrap(), vec![10, 10, 5]);
    let evaluated: std::collections::BTreeSet<&str> =
        report.decisions.iter().filter(|d| d.deferred.is_none()).map(|d| d.service.as_str()).collect();
    assert_eq!(evaluated.len(), 25, "every target is evaluated within the tick");
    assert_eq!(report.deferred.len(), 15 + 5, "15 put off at 0 s, 5 at 10 s");
    let last = report.decisions.iter().map(|d| d.time).max().unwrap();
    assert_eq!(last, start().checked_add(SignedDuration::from_secs(2)).unwrap());
    assert_eq!(clock.sleeps().len(), 2, "no round once nothing is owed");
}

#[test]
fn deferred_targets_return_when_the_describe_bucket_has_regained_the_budget() {
    let interval = |describe_services| ApiBudget { describe_services, ..ApiBudget::default() }.deferred_interval();
    assert_eq!(interval(100), SignedDuration::from_secs(5), "the default: 100 calls at 20/s");
    assert_eq!(interval(1), SignedDuration::from_secs(1));
    assert_eq!(interval(500), SignedDuration::from_secs(10), "never later than the next poll");
}

#[test]
fn a_deferred_event_says_whether_the_budget_or_a_transient_failure_put_it_off() {
    use ecs_autopilot::decision::Deferral;
    use ecs_autopilot::handler::HandlerError;
    let spent = Deferral { api: "ecs:UpdateService".into(), budget: 25, transient: None };
    let throttled = Deferral {
        api: "ecs:DescribeServices".into(),
        budget: 100,
        transient: Some("ThrottlingException: Rate exceeded".into()),
    };
    let said = |deferral| HandlerError::Deferred { target: "service/c/web".into(), deferral }.to_string();
    assert_eq!(
        said(spent),
        "service/c/web was deferred: the round's budget of 25 ecs:UpdateService calls is spent; retry the event"
    );
    assert_eq!(
        said(throttled),
        "service/c/web was deferred: ecs:DescribeServices failed transiently after the SDK's retries: \
         ThrottlingException: Rate exceeded; retry the event"
    );
}
