//! The EventBridge rules of `infra/template.yaml` — the single source of
//! truth — route every documented example event (spec `events/`) to the
//! expected rule; unmanaged clusters and foreign events route nowhere.

use ecs_autopilot::route::template::{rules_from_file, rules_from_template};
use ecs_autopilot::route::Router;
use std::collections::BTreeMap;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn router(overrides: &[(&str, &str)]) -> Router {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let overrides: BTreeMap<String, String> =
        overrides.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let rules = rules_from_template(&text, &overrides).unwrap();
    Router::new(rules.into_iter().map(|r| r.rule).collect())
}

const MANAGED: &str = "arn:aws:ecs:us-west-2:111122223333:cluster/default,arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster,arn:aws:ecs:us-east-1:111122223333:cluster/default";

#[test]
fn every_example_event_reaches_its_rule() {
    let router = router(&[("ClusterArns", MANAGED), ("AlarmNamePrefix", "")]);
    let expected = [
        ("ecs-task-state-change.json", vec!["EcsTaskStateRule"]),
        ("ecs-container-instance-state-change.json", vec!["EcsContainerInstanceRule"]),
        ("ecs-service-action.json", vec!["EcsServiceActionRule"]),
        ("ecs-service-action-capacity-provider-steady-state.json", vec!["EcsServiceActionRule"]),
        ("ecs-service-action-service-task-start-impaired.json", vec!["EcsServiceActionRule"]),
        ("ecs-service-action-service-task-placement-failure-ec2.json", vec!["EcsServiceActionRule"]),
        ("ecs-service-action-service-task-placement-failure-fargate-spot.json", vec!["EcsServiceActionRule"]),
        ("ecs-deployment-state-change.json", vec!["EcsDeploymentRule"]),
        ("ecs-deployment-state-change-completed.json", vec!["EcsDeploymentRule"]),
        ("ecs-deployment-state-change-failed.json", vec!["EcsDeploymentRule"]),
        ("ecs-deployment-state-change-in-progress-rollback.json", vec!["EcsDeploymentRule"]),
        ("cloudwatch-alarm-state-change.json", vec!["AlarmStateRule"]),
        ("cloudwatch-alarm-state-change-metric-math.json", vec!["AlarmStateRule"]),
        ("scheduled-event.json", vec!["MetricTickRule"]),
        ("eventbridge-scheduler-default-payload.json", vec!["MetricTickRule"]),
        ("application-autoscaling-scaling-activity-state-change.json", vec![]),
        ("ec2-spot-instance-interruption-warning.json", vec!["Ec2SpotRule"]),
        ("ec2-instance-rebalance-recommendation.json", vec!["Ec2SpotRule"]),
    ];
    let dir = root().join("tests/fixtures/events");
    assert_eq!(
        std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
            .count(),
        expected.len()
    );
    for (file, want) in expected {
        let event = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(router.route(&event).unwrap(), want, "{file}");
    }
}

#[test]
fn unmanaged_clusters_and_other_alarms_route_nowhere() {
    let defaults = router(&[]);
    let dir = root().join("tests/fixtures/events");
    for file in ["ecs-task-state-change.json", "ecs-service-action.json"] {
        let event = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(defaults.route(&event).unwrap().is_empty(), "{file}");
    }
    // With a prefix set, other alarms route nowhere.
    let prefixed = router(&[("AlarmNamePrefix", "autopilot-")]);
    let alarm = std::fs::read_to_string(dir.join("cloudwatch-alarm-state-change.json")).unwrap();
    assert!(prefixed.route(&alarm).unwrap().is_empty());
}

/// docs/deploy.md, `AlarmNamePrefix`: with the template's defaults, the
/// alarm that the example configuration's step policy names reaches the
/// controller (an `autopilot-` default once dropped it).
#[test]
fn the_default_alarm_filter_lets_the_example_configurations_alarm_through() {
    let router = router(&[]);
    let config = std::fs::read_to_string(root().join("examples/config/describe-outputs.json")).unwrap();
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let names: Vec<&str> =
        config["MetricAlarms"].as_array().unwrap().iter().map(|a| a["AlarmName"].as_str().unwrap()).collect();
    assert!(names.contains(&"web-queue-depth-high"), "{names:?}");
    let dir = root().join("tests/fixtures/events");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("cloudwatch-alarm-state-change.json")).unwrap())
            .unwrap();
    for name in names {
        event["detail"]["alarmName"] = name.into();
        assert_eq!(router.route(&event.to_string()).unwrap(), vec!["AlarmStateRule"], "{name}");
    }
}

#[test]
fn sam_function_events_and_intrinsics_are_read() {
    let template = r#"
Parameters:
  Env: {Type: String, Default: prod}
  Names: {Type: CommaDelimitedList, Default: "a,b"}
Resources:
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Tasks:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.ecs]
              detail:
                group: !Ref Names
                clusterArn: [{suffix: !Sub "/${Env}"}]
                other: [!Join ["-", [x, !Ref Env]]]
        Tick:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(1 minute)}
  Rule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: '{"source": ["custom"]}'
      Targets: [{Id: t, Arn: !GetAtt Handler.Arn}]
"#;
    let rules = rules_from_template(template, &BTreeMap::new()).unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r.rule.name.as_str()).collect();
    assert_eq!(names, ["Handler.Tasks", "Handler.Tick", "Rule"]);
    assert_eq!(rules[2].targets, ["Handler"]);
    let router = Router::new(rules.into_iter().map(|r| r.rule).collect());
    let event = r#"{"source": "aws.ecs", "detail": {"group": "b", "clusterArn": "arn/prod", "other": "x-prod"}}"#;
    assert_eq!(router.route(event).unwrap(), ["Handler.Tasks"]);
    assert_eq!(router.route(r#"{"source": "custom"}"#).unwrap(), ["Rule"]);
}

#[test]
fn bad_templates_and_rule_files_name_the_place() {
    let err = rules_from_template(
        "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: !Ref Missing}\n",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("Resources.R") && err.to_string().contains("!Ref Missing"), "{err}");
    let err = rules_from_template(
        "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: {source: aws.ecs}\n",
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("\"source\" must be an object or an array"), "{err}");
    let err = rules_from_file(r#"{"r1": {"a": []}}"#).unwrap_err();
    assert!(err.to_string().contains("r1") && err.to_string().contains("Empty arrays are not allowed"), "{err}");
    assert_eq!(rules_from_file(r#"{"r1": "{\"a\": [1]}", "r2": {"b": ["x"]}}"#).unwrap().len(), 2);
}

#[test]
fn every_example_event_reaches_the_expected_functions() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let overrides: BTreeMap<String, String> =
        [("ClusterArns", MANAGED), ("AlarmNamePrefix", "")].iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    let rules = rules_from_template(&text, &overrides).unwrap();
    let targets: BTreeMap<String, Vec<String>> =
        rules.iter().map(|r| (r.rule.name.clone(), r.targets.clone())).collect();
    let router = Router::new(rules.into_iter().map(|r| r.rule).collect());
    const BOTH: &[&str] = &["CapacityFunction", "ControllerFunction"];
    const CONTROLLER: &[&str] = &["ControllerFunction"];
    const CAPACITY: &[&str] = &["CapacityFunction"];
    let expected: [(&str, &[&str]); 18] = [
        ("ecs-task-state-change.json", BOTH),
        ("ecs-container-instance-state-change.json", CAPACITY),
        ("ecs-service-action.json", BOTH),
        ("ecs-service-action-capacity-provider-steady-state.json", BOTH),
        ("ecs-service-action-service-task-start-impaired.json", BOTH),
        ("ecs-service-action-service-task-placement-failure-ec2.json", BOTH),
        ("ecs-service-action-service-task-placement-failure-fargate-spot.json", BOTH),
        ("ecs-deployment-state-change.json", CONTROLLER),
        ("ecs-deployment-state-change-completed.json", CONTROLLER),
        ("ecs-deployment-state-change-failed.json", CONTROLLER),
        ("ecs-deployment-state-change-in-progress-rollback.json", CONTROLLER),
        ("cloudwatch-alarm-state-change.json", CONTROLLER),
        ("cloudwatch-alarm-state-change-metric-math.json", CONTROLLER),
        ("scheduled-event.json", BOTH),
        ("eventbridge-scheduler-default-payload.json", BOTH),
        ("application-autoscaling-scaling-activity-state-change.json", &[]),
        ("ec2-spot-instance-interruption-warning.json", CAPACITY),
        ("ec2-instance-rebalance-recommendation.json", CAPACITY),
    ];
    let dir = root().join("tests/fixtures/events");
    for (file, want) in expected {
        let event = std::fs::read_to_string(dir.join(file)).unwrap();
        let mut functions: Vec<String> =
            router.route(&event).unwrap().iter().flat_map(|rule| targets[&rule.to_string()].clone()).collect();
        functions.sort();
        functions.dedup();
        // docs/plan.md: every event a rule routes is also recorded in the
        // event log group (the tick is not an event rule's: it is not).
        let recorded = functions.iter().any(|f| f == "EventLogGroup");
        let scheduled = file.starts_with("scheduled") || file.starts_with("eventbridge-scheduler");
        assert_eq!(recorded, !want.is_empty() && !scheduled, "{file}: recorded in the event log group");
        functions.retain(|f| f != "EventLogGroup");
        assert_eq!(functions, want, "{file}");
    }
}

/// docs/deploy.md "Fargate-only clusters": with no capacity provider the
/// stack has no capacity function, and routing (the replay's included)
/// reaches the controller only.
#[test]
fn a_fargate_only_stack_routes_nothing_to_a_capacity_function() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let overrides: BTreeMap<String, String> =
        [("ClusterArns", MANAGED), ("AlarmNamePrefix", ""), ("CapacityProviderName", "")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
    let rules = rules_from_template(&text, &overrides).unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r.rule.name.as_str()).collect();
    assert!(!names.contains(&"EcsContainerInstanceRule"), "its only target is the capacity function: {names:?}");
    assert!(!names.contains(&"Ec2SpotRule"), "its only target is the capacity function: {names:?}");
    for r in &rules {
        let want: &[&str] = if r.rule.name == "MetricTickRule" {
            &["ControllerFunction"]
        } else {
            &["ControllerFunction", "EventLogGroup"]
        };
        assert_eq!(r.targets, want, "{}", r.rule.name);
    }
}

/// docs/plan.md "Recording production's events": RecordEvents=false
/// deploys no event log group and no rule writes to one.
#[test]
fn record_events_false_records_nothing() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let overrides: BTreeMap<String, String> =
        [("ClusterArns", MANAGED), ("AlarmNamePrefix", ""), ("RecordEvents", "false")]
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
    let rules = rules_from_template(&text, &overrides).unwrap();
    assert!(rules.len() >= 6, "{}", rules.len());
    for r in &rules {
        assert!(!r.targets.iter().any(|t| t == "EventLogGroup"), "{}: {:?}", r.rule.name, r.targets);
    }
}

/// Conditions decide which resources and rule targets exist
/// (route::template's module docs).
#[test]
fn template_conditions_choose_resources_and_targets() {
    let template = r#"
Parameters:
  Mode: {Type: String, Default: "on"}
  Extra: {Type: String, Default: ""}
Conditions:
  On: !Equals [!Ref Mode, "on"]
  HasExtra: !Not [!Equals [!Ref Extra, ""]]
  Both: !And [!Condition On, !Condition HasExtra]
  Either: {"Fn::Or": [{"Condition": "On"}, {"Condition": "HasExtra"}]}
Resources:
  Always:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [a]}
      Targets:
        - {Id: f, Arn: !GetAtt F.Arn}
        - !If [Both, {Id: g, Arn: !GetAtt G.Arn}, !Ref AWS::NoValue]
        - !If [On, {Id: h, Arn: !GetAtt H.Arn}, {Id: i, Arn: !GetAtt I.Arn}]
  WhenEither:
    Condition: Either
    Type: AWS::Events::Rule
    Properties:
      EventPattern: {source: [b]}
      Targets: [{Id: f, Arn: !GetAtt F.Arn}]
"#;
    let load = |pairs: &[(&str, &str)]| {
        let overrides: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
        rules_from_template(template, &overrides)
            .unwrap()
            .into_iter()
            .map(|r| (r.rule.name, r.targets))
            .collect::<Vec<_>>()
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    assert_eq!(load(&[]), [("Always".into(), s(&["F", "H"])), ("WhenEither".into(), s(&["F"]))]);
    assert_eq!(load(&[("Extra", "x")]), [("Always".into(), s(&["F", "G", "H"])), ("WhenEither".into(), s(&["F"]))]);
    assert_eq!(load(&[("Mode", "off")]), [("Always".into(), s(&["F", "I"]))]);

    // A cycle and an undeclared condition are errors naming the place.
    let cyclic = "Conditions:\n  A: !Condition B\n  B: !Condition A\nResources:\n  R:\n    Condition: A\n    Type: AWS::Events::Rule\n    Properties: {EventPattern: {source: [a]}}\n";
    let err = rules_from_template(cyclic, &BTreeMap::new()).unwrap_err().to_string();
    assert!(err.contains("nests more than 32 deep"), "{err}");
    let undeclared = "Resources:\n  R:\n    Condition: Nope\n    Type: AWS::Events::Rule\n    Properties: {EventPattern: {source: [a]}}\n";
    let err = rules_from_template(undeclared, &BTreeMap::new()).unwrap_err().to_string();
    assert_eq!(err, "Resources.R.Condition: condition Nope is not declared under Conditions");
}
