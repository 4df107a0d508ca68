//! Environment validation at cold start: every bad value names its variable.

use autopilot_lambdas::settings::{CapacityEnv, ConfigSource, ControllerEnv, Env};

/// (case name, variables, expected message prefix)
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn controller_settings_cases() {
    let ok = ControllerEnv::from_env(&env(&[
        ("AUTOPILOT_CONFIG_PARAMETER_PATH", "/autopilot/prod"),
        ("AUTOPILOT_STATE_TABLE", "state"),
        ("AUTOPILOT_SHADOW", "true"),
    ]))
    .unwrap();
    assert_eq!(ok.config, ConfigSource::ParameterPath("/autopilot/prod".into()));
    assert!(ok.shadow);
    assert_eq!(ok.event_bus, None);
    assert_eq!(ok.poll_window_seconds, 50, "the tick polls for 50 s by default");
    let cases: [Case; 7] = [
        ("no configuration source", &[("AUTOPILOT_STATE_TABLE", "s")], "environment variable AUTOPILOT_CONFIG_FILE: set it"),
        (
            "two configuration sources",
            &[("AUTOPILOT_CONFIG_FILE", "a.yaml"), ("AUTOPILOT_CONFIG_PARAMETER_PATH", "/p"), ("AUTOPILOT_STATE_TABLE", "s")],
            "environment variable AUTOPILOT_CONFIG_FILE: set either it or AUTOPILOT_CONFIG_PARAMETER_PATH, not both",
        ),
        (
            "relative parameter path",
            &[("AUTOPILOT_CONFIG_PARAMETER_PATH", "autopilot"), ("AUTOPILOT_STATE_TABLE", "s")],
            "environment variable AUTOPILOT_CONFIG_PARAMETER_PATH: \"autopilot\" must start with / (an SSM parameter path)",
        ),
        ("missing table", &[("AUTOPILOT_CONFIG_FILE", "a.yaml")], "environment variable AUTOPILOT_STATE_TABLE: required and not set"),
        (
            "shadow not a boolean",
            &[("AUTOPILOT_CONFIG_FILE", "a.yaml"), ("AUTOPILOT_STATE_TABLE", "s"), ("AUTOPILOT_SHADOW", "yes")],
            "environment variable AUTOPILOT_SHADOW: \"yes\" is not true or false",
        ),
        (
            "poll window past the tick",
            &[("AUTOPILOT_CONFIG_FILE", "a.yaml"), ("AUTOPILOT_STATE_TABLE", "s"), ("AUTOPILOT_POLL_WINDOW_SECONDS", "55")],
            "environment variable AUTOPILOT_POLL_WINDOW_SECONDS: \"55\" is not a whole number of seconds from 0 to 50",
        ),
        (
            "poll window not a number",
            &[("AUTOPILOT_CONFIG_FILE", "a.yaml"), ("AUTOPILOT_STATE_TABLE", "s"), ("AUTOPILOT_POLL_WINDOW_SECONDS", "-1")],
            "environment variable AUTOPILOT_POLL_WINDOW_SECONDS: \"-1\"",
        ),
    ];
    for (name, vars, expected) in cases {
        let err = ControllerEnv::from_env(&env(vars)).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{name}: {err}");
    }
}

#[test]
fn fleet_settings_cases() {
    // docs/fleet.md: concurrency, the API budget per round, the shard.
    let base = [("AUTOPILOT_CONFIG_FILE", "a.yaml"), ("AUTOPILOT_STATE_TABLE", "s")];
    let defaults = ControllerEnv::from_env(&env(&base)).unwrap();
    assert_eq!(defaults.concurrency, 32);
    assert_eq!(
        (defaults.budget.describe_services, defaults.budget.get_metric_data, defaults.budget.update_service),
        (100, 250, 25)
    );
    assert_eq!(defaults.shard.to_string(), "0/1");
    let with = |pairs: &[(&'static str, &'static str)]| {
        let mut e = env(&base);
        e.extend(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        ControllerEnv::from_env(&e)
    };
    let set = with(&[
        ("AUTOPILOT_CONCURRENCY", "8"),
        ("AUTOPILOT_BUDGET_DESCRIBE_SERVICES", "500"),
        ("AUTOPILOT_BUDGET_GET_METRIC_DATA", "20"),
        ("AUTOPILOT_BUDGET_UPDATE_SERVICE", "40"),
        ("AUTOPILOT_SHARD", "2/4"),
    ])
    .unwrap();
    assert_eq!(set.concurrency, 8);
    assert_eq!((set.budget.describe_services, set.budget.get_metric_data, set.budget.update_service), (500, 20, 40));
    assert_eq!(set.shard.to_string(), "2/4");
    let cases: [Case; 4] = [
        (
            "no concurrency",
            &[("AUTOPILOT_CONCURRENCY", "0")],
            "environment variable AUTOPILOT_CONCURRENCY: \"0\" is not a whole number from 1 to 256",
        ),
        (
            "a budget of nothing",
            &[("AUTOPILOT_BUDGET_UPDATE_SERVICE", "0")],
            "environment variable AUTOPILOT_BUDGET_UPDATE_SERVICE: \"0\" is not a whole number from 1 to",
        ),
        (
            "a shard past the count",
            &[("AUTOPILOT_SHARD", "4/4")],
            "environment variable AUTOPILOT_SHARD: shard 4 of 4: the index must be below the count",
        ),
        (
            "a shard not i/n",
            &[("AUTOPILOT_SHARD", "half")],
            "environment variable AUTOPILOT_SHARD: \"half\" is not <index>/<count>",
        ),
    ];
    for (name, vars, expected) in cases {
        let err = with(vars).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{name}: {err}");
    }
}

#[test]
fn capacity_settings_cases() {
    let base = [
        ("AUTOPILOT_CLUSTER", "prod"),
        ("AUTOPILOT_CAPACITY_PROVIDERS", "prod-ec2, spare"),
        ("AUTOPILOT_STATE_TABLE", "state"),
        ("AUTOPILOT_INSTANCE_TYPES", r#"{"m6g.large": {"cpu": 2048, "memory": 7680}}"#),
    ];
    let ok = CapacityEnv::from_env(&env(&base)).unwrap();
    assert_eq!(ok.providers, ["prod-ec2", "spare"]);
    let with = |k: &'static str, v: &'static str| {
        let mut e = env(&base);
        e.insert(k.to_owned(), v.to_owned());
        CapacityEnv::from_env(&e).unwrap_err().to_string()
    };
    assert!(with("AUTOPILOT_INSTANCE_TYPES", "m6g.large")
        .starts_with("environment variable AUTOPILOT_INSTANCE_TYPES: not JSON"));
    assert_eq!(
        with("AUTOPILOT_INSTANCE_TYPES", r#"{"m6g.large": {"cpu": 2048}}"#),
        "environment variable AUTOPILOT_INSTANCE_TYPES: m6g.large: needs positive whole cpu (units) and memory (MiB)"
    );
    assert_eq!(
        with("AUTOPILOT_CAPACITY_MODE", "slow"),
        "environment variable AUTOPILOT_CAPACITY_MODE: \"slow\" is not fast or aws"
    );
    assert_eq!(with("AUTOPILOT_CLUSTER", " "), "environment variable AUTOPILOT_CLUSTER: required and not set");
    // The disruption budget (docs/capacity.md): defaults, values, ranges.
    assert_eq!(
        (ok.options.disruption_instances, ok.options.disruption_percent, ok.options.disruption_window_seconds),
        (10, 50, 60)
    );
    let mut budget = env(&base);
    budget.insert("AUTOPILOT_DISRUPTION_INSTANCES".into(), "3".into());
    budget.insert("AUTOPILOT_DISRUPTION_PERCENT".into(), "20".into());
    budget.insert("AUTOPILOT_DISRUPTION_WINDOW_SECONDS".into(), "300".into());
    let set = CapacityEnv::from_env(&budget).unwrap().options;
    assert_eq!((set.disruption_instances, set.disruption_percent, set.disruption_window_seconds), (3, 20, 300));
    assert_eq!(
        with("AUTOPILOT_DISRUPTION_INSTANCES", "0"),
        "environment variable AUTOPILOT_DISRUPTION_INSTANCES: \"0\" is not a whole number from 1 to 1000"
    );
    assert_eq!(
        with("AUTOPILOT_DISRUPTION_PERCENT", "150"),
        "environment variable AUTOPILOT_DISRUPTION_PERCENT: \"150\" is not a whole number from 1 to 100"
    );
    assert!(!ok.options.consolidation, "consolidation is opt-in");
    assert_eq!(ok.config, None, "the capacity function needs no configuration");
    // The configuration's Autopilot.Capacity, the environment laid over it.
    let section = autopilot_lambdas::settings::parse_capacity_config(&[(
        "cfg.yaml",
        "Autopilot:\n  Capacity:\n    DisruptionBudget: {Percent: 20, WindowSeconds: 300}\n    Consolidation: true\n",
    )])
    .unwrap()
    .capacity;
    let mut budget_env = env(&base);
    budget_env.insert("AUTOPILOT_DISRUPTION_PERCENT".into(), "30".into());
    budget_env.insert("AUTOPILOT_CONFIG_PARAMETER_PATH".into(), "/ecs-autopilot/prod".into());
    let e = CapacityEnv::from_env(&budget_env).unwrap();
    assert!(e.config.is_some());
    let merged = autopilot_lambdas::settings::capacity_options(e.mode, &section, &e.overrides).unwrap();
    assert_eq!(
        (
            merged.disruption_instances,
            merged.disruption_percent,
            merged.disruption_window_seconds,
            merged.consolidation
        ),
        (10, 30, 300, true)
    );
    let mut consolidating = env(&base);
    consolidating.insert("AUTOPILOT_CONSOLIDATION".into(), "true".into());
    assert!(CapacityEnv::from_env(&consolidating).unwrap().options.consolidation);
    assert_eq!(
        with("AUTOPILOT_CONSOLIDATION", "yes"),
        "environment variable AUTOPILOT_CONSOLIDATION: \"yes\" is not true or false"
    );
    assert_eq!(
        with("AUTOPILOT_DISRUPTION_WINDOW_SECONDS", "ten"),
        "environment variable AUTOPILOT_DISRUPTION_WINDOW_SECONDS: \"ten\" is not a whole number from 60 to 3600"
    );
}
