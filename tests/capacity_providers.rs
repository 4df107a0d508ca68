//! Clusters with several capacity providers, and Fargate-only clusters
//! (docs/capacity.md "Several capacity providers", "Fargate-only and mixed
//! clusters"): every Auto Scaling group provider is planned on its own, its
//! share of a strategy's tasks split as ECS splits them; Fargate's providers
//! need no instances.

use ecs_autopilot::capacity::model::StrategyItem;
use ecs_autopilot::capacity::snapshot::{self, Providers};
use ecs_autopilot::capacity::{plan, CapacityDecision, CapacityMemory, CapacityOptions};
use ecs_autopilot::config::EvaluationMode;

fn doc(name: &str) -> serde_json::Map<String, serde_json::Value> {
    let path = format!("{}/tests/fixtures/capacity/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    snapshot::merge(&[(path.as_str(), text.as_str())]).unwrap()
}

fn plan_all(providers: &Providers, mode: EvaluationMode) -> Vec<CapacityDecision> {
    let now = jiff::Timestamp::from_second(1_796_000_000).unwrap();
    let options = CapacityOptions { mode, ..CapacityOptions::default() };
    providers.planned.iter().map(|c| plan(now, c, &options, CapacityMemory::default()).unwrap().0).collect()
}

#[test]
fn a_mixed_cluster_plans_each_auto_scaling_group_provider_and_no_fargate_one() {
    let providers = snapshot::providers(&doc("mixed-providers.json")).unwrap();
    let planned: Vec<&str> = providers.planned.iter().map(|c| c.capacity_provider.as_str()).collect();
    assert_eq!(planned, ["prod-od", "prod-spot"]);
    assert_eq!(providers.without_instances, ["FARGATE", "FARGATE_SPOT"]);
    // Each provider keeps its own group and instances.
    let od = &providers.planned[0];
    assert_eq!((od.asg.name.as_str(), od.instances.len()), ("od-asg", 2));
    let spot = &providers.planned[1];
    assert_eq!((spot.asg.name.as_str(), spot.instances.len()), ("spot-asg", 1));
    // Strategies: api's own, web none (a launch type), worker the
    // cluster's default.
    let strategy = |name: &str| od.services.iter().find(|s| s.name == name).unwrap().strategy.clone();
    assert_eq!(
        strategy("api"),
        [
            StrategyItem { provider: "prod-od".into(), base: 2, weight: 1 },
            StrategyItem { provider: "prod-spot".into(), base: 0, weight: 3 }
        ]
    );
    assert_eq!(strategy("web"), []);
    assert_eq!(strategy("worker"), [StrategyItem { provider: "FARGATE_SPOT".into(), base: 0, weight: 1 }]);
}

#[test]
fn fast_mode_splits_a_deployments_headroom_over_the_strategy() {
    let providers = snapshot::providers(&doc("mixed-providers.json")).unwrap();
    let decisions = plan_all(&providers, EvaluationMode::Fast);
    // api may run 20 tasks (10 × 200 %): base 2 on On-Demand, then 18 by
    // 1:3 — 4.5 and 13.5, the tie's remainder to the earlier item — so 7
    // On-Demand and 13 Spot. On-Demand has 4 (2 running, 2 provisioning):
    // 2 provisioning + 3 headroom wait, 2 fit the free halves of its two
    // instances, 3 need 2 new ones. Spot has 6: 4 provisioning + 7
    // headroom = 11 wait, its one instance is full: 6 new ones.
    let od = &decisions[0];
    assert_eq!(
        (od.capacity_provider.as_str(), od.provisioning_tasks, od.current_desired, od.desired),
        ("prod-od", 2, 2, 4),
        "{od:?}"
    );
    let spot = &decisions[1];
    assert_eq!(
        (spot.capacity_provider.as_str(), spot.provisioning_tasks, spot.current_desired, spot.desired),
        ("prod-spot", 4, 1, 7),
        "{spot:?}"
    );
}

#[test]
fn aws_mode_plans_each_provider_on_its_own_provisioning_tasks() {
    let providers = snapshot::providers(&doc("mixed-providers.json")).unwrap();
    let decisions = plan_all(&providers, EvaluationMode::Aws);
    // On-Demand's 2 provisioning tasks fit its free halves: M = N = 2.
    assert_eq!((decisions[0].m, decisions[0].n), (2, 2), "{:?}", decisions[0]);
    // Spot's 4 need 2 more instances beside its busy one: M = 3, N = 1.
    assert_eq!((decisions[1].m, decisions[1].n), (3, 1), "{:?}", decisions[1]);
    assert!(decisions[1].desired > 1, "{:?}", decisions[1]);
}

#[test]
fn a_fargate_only_cluster_has_nothing_to_plan_and_is_no_error() {
    let d = doc("fargate-only.json");
    let providers = snapshot::providers(&d).unwrap();
    assert!(providers.planned.is_empty());
    assert_eq!(providers.without_instances, ["FARGATE", "FARGATE_SPOT"]);
    assert_eq!(snapshot::provider(&d, "FARGATE").unwrap(), None);
    // Not even instance types are needed where nothing is planned.
    assert!(!d.contains_key("instanceTypes"));
}

#[test]
fn a_provider_the_snapshot_does_not_list_is_an_error_naming_it() {
    let e = snapshot::provider(&doc("mixed-providers.json"), "prod-gpu").unwrap_err();
    assert_eq!(e.to_string(), "snapshot capacityProviders: no capacity provider named \"prod-gpu\"");
    // Fargate's built-in providers need not be listed.
    assert_eq!(snapshot::provider(&doc("mixed-providers.json"), "FARGATE_SPOT").unwrap(), None);
    assert!(snapshot::provider(&doc("mixed-providers.json"), "prod-spot").unwrap().is_some());
}
