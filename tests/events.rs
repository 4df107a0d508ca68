//! Every documented example event (aws-behaviour §10; tests/fixtures/events/PROVENANCE.md) parses into its
//! typed detail and round-trips to the exact JSON it came from; malformed
//! events name the field; unknown kinds are "not ours", never errors.

use ecs_autopilot::event::{self, Detail, Parsed, ScheduledDetail, ServiceActionName, TaskStatus};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The documented example events (tests/fixtures/events/PROVENANCE.md says
/// where each comes from). Only files inside the repository: a test that
/// read a folder beside it would pass or fail depending on the machine.
fn fixture_dirs() -> Vec<PathBuf> {
    vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events")]
}

fn load(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_spec_event_parses_and_round_trips_exactly() {
    let mut seen = 0;
    for dir in fixture_dirs() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let original: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let parsed =
                event::parse_event_value(original.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            match parsed {
                Parsed::Ours(event) => {
                    assert_eq!(event.to_value().unwrap(), original, "{} does not round-trip", path.display());
                }
                Parsed::NotOurs { detail_type, .. } => {
                    // Only the AAS scaled-to-max event is outside our set.
                    assert_eq!(
                        detail_type,
                        "Application Auto Scaling Scaling Activity State Change",
                        "{}",
                        path.display()
                    );
                }
            }
            seen += 1;
        }
    }
    assert!(seen >= 16, "expected the 16 documented examples, saw {seen}");
}

#[test]
fn typed_details_carry_the_fields_the_controller_reads() {
    let Parsed::Ours(e) = event::parse_event_value(load("ecs-task-state-change.json")).unwrap() else { panic!() };
    let Detail::TaskStateChange(task) = &e.detail else { panic!("{:?}", e.detail) };
    assert_eq!((task.version, &task.last_status), (4, &TaskStatus::Running));
    assert_eq!(task.started_at.as_ref().unwrap().instant().to_string(), "2020-01-23T17:57:58.103Z");

    let Parsed::Ours(e) =
        event::parse_event_value(load("ecs-service-action-service-task-placement-failure-ec2.json")).unwrap()
    else {
        panic!()
    };
    let Detail::ServiceAction(action) = &e.detail else { panic!() };
    assert_eq!(action.event_name, ServiceActionName::ServiceTaskPlacementFailure);
    assert_eq!(action.reason.as_deref(), Some("RESOURCE:CPU"));
    assert_eq!(
        e.service_arn().and_then(event::resource_id_from_service_arn).as_deref(),
        Some("service/default/servicetest")
    );

    let Parsed::Ours(e) = event::parse_event_value(load("eventbridge-scheduler-default-payload.json")).unwrap() else {
        panic!()
    };
    assert_eq!(e.detail, Detail::Scheduled(ScheduledDetail::EncodedString("{}".into())));

    let Parsed::Ours(e) = event::parse_event_value(load("cloudwatch-alarm-state-change.json")).unwrap() else {
        panic!()
    };
    let Detail::AlarmStateChange(alarm) = &e.detail else { panic!() };
    assert_eq!(alarm.state.value, event::AlarmStateValue::Alarm);

    let Parsed::Ours(e) = event::parse_event_value(load("ecs-container-instance-state-change.json")).unwrap() else {
        panic!()
    };
    let Detail::ContainerInstanceStateChange(ci) = &e.detail else { panic!() };
    assert_eq!((ci.remaining_integer("CPU"), ci.remaining_integer("MEMORY")), (Some(1988), Some(767)));
}

#[test]
fn fields_aws_adds_later_are_kept() {
    let mut v = load("ecs-task-state-change.json");
    v["detail"]["someFutureField"] = serde_json::json!({"nested": [1, 2]});
    v["replay-name"] = serde_json::json!("archive-replay-1");
    v["detail"]["lastStatus"] = serde_json::json!("HIBERNATING");
    let Parsed::Ours(e) = event::parse_event_value(v.clone()).unwrap() else { panic!() };
    let Detail::TaskStateChange(task) = &e.detail else { panic!() };
    assert_eq!(task.last_status, TaskStatus::Other("HIBERNATING".into()));
    assert_eq!(e.to_value().unwrap(), v);
}

#[test]
fn malformed_events_name_the_field_and_the_problem() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            {
                let mut v = load("ecs-task-state-change.json");
                v["detail"]["version"] = "four".into();
                v
            },
            "detail.version",
            "invalid type: string \"four\"",
        ),
        (
            {
                let mut v = load("ecs-task-state-change.json");
                v["detail"].as_object_mut().unwrap().remove("taskArn");
                v
            },
            "detail.taskArn",
            "missing field",
        ),
        (
            {
                let mut v = load("ecs-task-state-change.json");
                v["detail"]["startedAt"] = "yesterday".into();
                v
            },
            "detail.startedAt",
            "invalid timestamp",
        ),
        (
            {
                let mut v = load("ecs-deployment-state-change.json");
                v["time"] = "noon".into();
                v
            },
            "time",
            "invalid timestamp",
        ),
        (
            {
                let mut v = load("ecs-deployment-state-change.json");
                v.as_object_mut().unwrap().remove("id");
                v
            },
            "id",
            "missing field",
        ),
        (
            {
                let mut v = load("ecs-deployment-state-change.json");
                v.as_object_mut().unwrap().remove("detail");
                v
            },
            "detail",
            "missing field",
        ),
        (
            {
                let mut v = load("scheduled-event.json");
                v["detail"] = serde_json::json!(7);
                v
            },
            "detail",
            "expected an object or a string",
        ),
        (
            {
                let mut v = load("eventbridge-scheduler-default-payload.json");
                v["detail"] = "not json".into();
                v
            },
            "detail",
            "must hold a JSON object",
        ),
        (
            {
                let mut v = load("ecs-service-action.json");
                v["resources"] = serde_json::json!("arn");
                v
            },
            "resources",
            "expected a sequence",
        ),
        (serde_json::json!([1, 2]), "", "expected a JSON object"),
    ];
    for (value, path, message) in cases {
        let err = event::parse_event_value(value).unwrap_err();
        assert_eq!(err.path, path, "{err}");
        assert!(err.message.contains(message), "{path}: {err}");
        assert!(err.to_string().starts_with("malformed event"), "{err}");
    }
    let err = event::parse_event("{ not json").unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
}

#[test]
fn unknown_detail_types_are_not_ours_not_errors() {
    let mut v = load("ecs-task-state-change.json");
    v["detail-type"] = "ECS Hook State Change".into();
    v["detail"] = serde_json::json!({"anything": "goes"});
    assert_eq!(
        event::parse_event_value(v).unwrap(),
        Parsed::NotOurs {
            id: "3317b2af-7005-947d-b652-f55e762e571a".into(),
            detail_type: "ECS Hook State Change".into(),
            source: "aws.ecs".into()
        }
    );
    // A consumed detail-type from a foreign source is not ours either.
    let mut v = load("ecs-task-state-change.json");
    v["source"] = "com.example.app".into();
    assert!(matches!(event::parse_event_value(v).unwrap(), Parsed::NotOurs { .. }));
}
