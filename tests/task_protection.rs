//! Task scale-in protection read from a snapshot (docs/capacity.md "Task
//! scale-in protection"): `protectedTasks` as `aws ecs get-task-protection`
//! prints it, and which tasks the capacity function asks about.

use ecs_autopilot::capacity::snapshot;
use serde_json::{json, Value};

fn doc(extra: Value) -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string("examples/capacity/snapshot.json").unwrap();
    let mut d = snapshot::merge(&[("snapshot.json", &text)]).unwrap();
    let Value::Object(extra) = extra else { panic!("an object") };
    d.extend(extra);
    d
}

const A1_TASK: &str = "arn:aws:ecs:us-east-1:123456789012:task/prod/";

#[test]
fn protected_tasks_are_read_with_their_expiry() {
    let base = doc(json!({}));
    let first = base["tasks"][0]["taskArn"].as_str().unwrap().to_owned();
    let second = base["tasks"][1]["taskArn"].as_str().unwrap().to_owned();
    let third = base["tasks"][2]["taskArn"].as_str().unwrap().to_owned();
    let d = doc(json!({"protectedTasks": [
        {"taskArn": first, "protectionEnabled": true, "expirationDate": "2026-11-22T05:00:00Z"},
        {"taskArn": second, "protectionEnabled": false},
        {"taskArn": third, "protectionEnabled": true, "expirationDate": 1_800_000_000},
    ]}));
    let c = snapshot::cluster(&d, None).unwrap();
    let until = |arn: &str| c.tasks.iter().find(|t| t.id == arn).unwrap().protected_until;
    assert_eq!(until(&first), Some("2026-11-22T05:00:00Z".parse().unwrap()));
    assert_eq!(until(&second), None, "protection disabled");
    assert_eq!(until(&third), Some(jiff::Timestamp::from_second(1_800_000_000).unwrap()));
    let now: jiff::Timestamp = "2026-11-22T03:00:00Z".parse().unwrap();
    assert!(c.tasks.iter().find(|t| t.id == first).unwrap().protected_at(now));

    let bad = doc(json!({"protectedTasks": [{"taskArn": first, "protectionEnabled": true, "expirationDate": "soon"}]}));
    let err = snapshot::cluster(&bad, None).unwrap_err().to_string();
    assert!(err.starts_with("snapshot protectedTasks[0].expirationDate: \"soon\" is not a time"), "{err}");
}

#[test]
fn protection_is_asked_only_for_tasks_on_instances_that_could_be_drained() {
    // The example's instances all run service tasks: none could be drained.
    assert!(snapshot::protection_candidates(&doc(json!({})), false).unwrap().is_empty());
    // With consolidation any instance may be drained: every placed task.
    assert_eq!(snapshot::protection_candidates(&doc(json!({})), true).unwrap().len(), 7);
    // A daemon task alone on an instance: that instance could be drained.
    let d = doc(json!({
        "services": [{"serviceName": "agent", "schedulingStrategy": "DAEMON"}],
        "tasks": [
            {"taskArn": format!("{A1_TASK}daemon-c1"), "group": "service:agent", "lastStatus": "RUNNING",
             "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/c1"},
            {"taskArn": format!("{A1_TASK}daemon-a1"), "group": "service:agent", "lastStatus": "RUNNING",
             "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/a1"},
            {"taskArn": format!("{A1_TASK}web-a1"), "group": "service:web", "lastStatus": "RUNNING",
             "containerInstanceArn": "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/a1"},
        ],
    }));
    assert_eq!(snapshot::protection_candidates(&d, false).unwrap(), [format!("{A1_TASK}daemon-c1")]);
}
