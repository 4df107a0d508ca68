//! `autopilot plan` (docs/plan.md): the shipped recording replayed under
//! its configuration and a proposed one; the differences follow from
//! target tracking's arithmetic (aws-behaviour §3.6); identical
//! configurations differ nowhere; the CLI's table, JSON, chart and exit codes.

use ecs_autopilot::config::{self, EvaluationMode};
use ecs_autopilot::plan::{plan, History, Plan, RunName};
use ecs_autopilot::replay::{metrics_from_get_metric_data, InitialState, Line, MetricMapping, Metrics};
use ecs_autopilot::sim::stack::Stack;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

const WEB: &str = "service/prod-cluster/web";

fn file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn run(current: &str, proposed: &str) -> Plan {
    let current = config::load_str(current).unwrap();
    let proposed = config::load_str(proposed).unwrap();
    let stack = Stack::from_template(&file("infra/template.yaml"), &BTreeMap::new()).unwrap();
    let initial: BTreeMap<String, InitialState> =
        serde_json::from_str(&file("examples/recorded/initial.json")).unwrap();
    let mapping: BTreeMap<String, MetricMapping> =
        serde_yaml_ng::from_str(&file("examples/recorded/metric-map.yaml")).unwrap();
    let gmd: serde_json::Value = serde_json::from_str(&file("examples/recorded/metrics.json")).unwrap();
    let metrics: Metrics = metrics_from_get_metric_data(&gmd, &mapping).unwrap();
    let events = file("examples/recorded/events.jsonl");
    let lines: Vec<Line<'_>> = events.lines().enumerate().map(|(i, t)| Line { number: i + 1, text: t }).collect();
    plan(&current, &proposed, History { stack: &stack, initial: &initial, metrics: &metrics, lines: &lines }).unwrap()
}

fn example() -> String {
    file("examples/config/describe-outputs.json")
}

fn target_50() -> String {
    example().replace("\"TargetValue\": 70.0", "\"TargetValue\": 50.0")
}

fn stretches(p: &Plan) -> Vec<(String, String, u32, u32)> {
    p.services[0]
        .differences
        .iter()
        .map(|d| (d.from.to_string()[11..16].to_owned(), d.to.to_string()[11..16].to_owned(), d.current, d.proposed))
        .collect()
}

#[test]
fn a_lower_target_value_scales_out_further_and_holds_more_tasks() {
    let p = run(&example(), &target_50());
    assert!(p.differs());
    let web = &p.services[0];
    assert_eq!(web.service, WEB);
    assert!(web.configuration_changed);
    // The current run is AWS's replay of the recording (tests/replay.rs):
    // 4 -> 3 at 10:16, 3 -> 6 at 10:23, 6 -> 14 at 10:25, 14 -> 5 at 10:55.
    // With TargetValue 50: at 10:16 the 15 low minutes at 40 % ask for
    // ceil(4 × 40 / 50) = 4 (no change); at 10:23 ceil(4 × 92 / 50) = 8
    // instead of ceil(4 × 92 / 70) = 6; at 10:25 ceil(10 × 92 / 50) = 19
    // instead of 14; at 10:55 ceil(10 × 30 / 50) = 6 instead of 5.
    assert_eq!(
        stretches(&p),
        vec![
            ("10:16".into(), "10:23".into(), 3, 4),
            ("10:23".into(), "10:25".into(), 6, 8),
            ("10:25".into(), "10:55".into(), 14, 19),
            ("10:55".into(), "11:01".into(), 5, 6),
        ]
    );
    let first = web.first_difference.unwrap();
    assert_eq!((first.time.to_string().as_str(), first.current, first.proposed), ("2026-01-10T10:16:00Z", 3, 4));
    let largest = web.largest_difference.unwrap();
    assert_eq!(
        (largest.time.to_string().as_str(), largest.current, largest.proposed),
        ("2026-01-10T10:25:00Z", 14, 19)
    );
    assert_eq!(web.seconds_different, 45 * 60);
    let (current, proposed) = (web.current.as_ref().unwrap(), web.proposed.as_ref().unwrap());
    assert!(proposed.task_hours > current.task_hours * 1.2, "{} vs {}", proposed.task_hours, current.task_hours);
    assert_eq!((current.actions, proposed.actions), (4, 3));
    // 4 -> 3 at 10:16 then 3 -> 6 at 10:23: a reversal within 15 minutes.
    assert_eq!((current.flaps, proposed.flaps), (1, 0));
    assert_eq!((current.max_desired, proposed.max_desired), (14, 19));
    // A lower target holds more tasks: less under, more over the current target's need.
    assert!(proposed.under_provisioned_task_seconds < current.under_provisioned_task_seconds);
    assert!(proposed.over_provisioned_task_seconds > current.over_provisioned_task_seconds);
    // The scale-in due at 10:15 waits for the deployment in the current run only.
    assert_eq!(current.blocked.get("deployment_in_progress"), Some(&1));
    assert_eq!(proposed.blocked.get("deployment_in_progress"), None);
    // Provisioning is measured against the current configuration's target.
    let reference = web.reference.as_ref().unwrap();
    assert_eq!((reference.policy.as_str(), reference.target_value), ("cpu70", 70.0));
    // The example is AWS-shaped: its AWS reference is the current run.
    assert!(p.aws_reference_is_current);
    assert_eq!(web.aws_reference, web.current);
    // The step policy's queue metric is not in the recording: said, not dropped.
    assert!(
        p.notes.iter().any(|n| n.contains("ApproximateNumberOfMessagesVisible") && n.contains("proposed")),
        "{:?}",
        p.notes
    );
}

#[test]
fn the_same_configuration_differs_nowhere() {
    let p = run(&example(), &example());
    assert!(!p.differs());
    let web = &p.services[0];
    assert!(!web.configuration_changed);
    assert!(web.differences.is_empty() && web.first_difference.is_none());
    assert_eq!(web.current, web.proposed);
}

#[test]
fn a_fast_current_configuration_gets_its_own_aws_reference_run() {
    let fast = example().replacen(
        "{\n  \"ScalableTargets\"",
        "{\n  \"Autopilot\": {\"Defaults\": {\"EvaluationMode\": \"fast\"}},\n  \"ScalableTargets\"",
        1,
    );
    let cfg = config::load_str(&fast).unwrap();
    assert_eq!(cfg.targets[WEB].extensions.mode, EvaluationMode::Fast, "the edit must switch the mode");
    let p = run(&fast, &example());
    assert!(!p.aws_reference_is_current);
    let web = &p.services[0];
    // The AWS reference of a fast configuration is the AWS-shaped example itself.
    assert_eq!(web.aws_reference, web.proposed);
    assert_ne!(web.current, web.aws_reference);
    assert!(web.curves.contains_key(&RunName::AwsReference));
}

#[test]
fn a_service_only_one_configuration_scales_is_a_difference() {
    let other = example().replace("service/prod-cluster/web", "service/prod-cluster/api");
    let p = run(&example(), &other);
    assert!(p.differs());
    let names: Vec<&str> = p.services.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(names, vec!["service/prod-cluster/api", WEB]);
    assert!(p.services[0].current.is_none() && p.services[0].proposed.is_some());
    assert!(p.services[1].current.is_some() && p.services[1].proposed.is_none());
    // The recording's CPU series is web's: the proposed run leaves it out, with a note.
    assert!(
        p.notes.iter().any(|n| n.starts_with("proposed: the history's metrics of service/prod-cluster/web")),
        "{:?}",
        p.notes
    );
}

fn autopilot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autopilot")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn cli(proposed: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "plan",
        "--config",
        "examples/config/describe-outputs.json",
        "--proposed",
        proposed.to_str().unwrap(),
        "--events",
        "examples/recorded/events.jsonl",
        "--metrics",
        "examples/recorded/metrics.json",
        "--metric-map",
        "examples/recorded/metric-map.yaml",
        "--initial",
        "examples/recorded/initial.json",
    ];
    args.extend_from_slice(extra);
    autopilot(&args)
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("autopilot-plan-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_cli_prints_the_plan_and_its_exit_code_says_whether_anything_differs() {
    let dir = tempdir("cli");
    let proposed = dir.join("proposed.json");
    std::fs::write(&proposed, target_50()).unwrap();
    let chart = dir.join("plan.svg");
    let out = cli(&proposed, &["--detailed-exitcode", "--chart", chart.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("first difference:   2026-01-10T10:16:00Z  current 3 -> proposed 4"), "{stdout}");
    assert!(stdout.contains("largest difference: 2026-01-10T10:25:00Z  current 14 -> proposed 19"), "{stdout}");
    assert!(stdout.contains("1 of 1 service(s) would differ"), "{stdout}");
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains(WEB) && svg.contains("desired tasks"), "{svg}");
    // Without the flag a plan with differences succeeds.
    assert_eq!(cli(&proposed, &[]).status.code(), Some(0));
    // JSON: the same plan as data.
    let out = cli(&proposed, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["services"][0]["largest_difference"]["proposed"], 19);
    assert_eq!(v["services"][0]["differences"].as_array().unwrap().len(), 4);
    // Nothing differs: exit 0 with the flag.
    let same = cli(Path::new("examples/config/describe-outputs.json"), &["--detailed-exitcode"]);
    assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stderr));
    assert!(String::from_utf8_lossy(&same.stdout).contains("changes nothing on this history"));
}

#[test]
fn the_cli_refuses_bad_input_with_exit_2() {
    let out = cli(Path::new("examples/config/describe-outputs.json"), &["--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format \"yaml\": expected table or json"));
    let out = cli(Path::new("does/not/exist.json"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read does/not/exist.json"));
    let dir = tempdir("bad");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, example().replace("\"MaxCapacity\": 40,", "\"MaxCapacity\": 1,")).unwrap();
    let out = cli(&bad, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MaxCapacity"), "{}", String::from_utf8_lossy(&out.stderr));
}
