//! The `autopilot` binary end to end: output and exit codes (brief aws-behaviour §3.5:
//! 0 success, 1 runtime failure, 2 usage or input error).

use std::path::Path;
use std::process::{Command, Output};

fn autopilot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autopilot")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn validate_accepts_the_examples() {
    let out = autopilot(&["validate", "examples/config/describe-outputs.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "ok: 1 scalable target(s), 2 scaling polic(ies), 2 scheduled action(s)");
    let out = autopilot(&["validate", "examples/config/fast-with-extensions.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn validate_prints_every_error_with_its_path_and_exits_2() {
    let dir = tempdir();
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "ScalableTargets:\n  - {ResourceId: service/c/s, MinCapacity: 5, MaxCapacity: 2}\n  - {ResourceId: nope, MinCapacity: 1, MaxCapacity: 2}\n").unwrap();
    let out = autopilot(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("ScalableTargets[0].MinCapacity: 5 is greater than MaxCapacity 2"), "{err}");
    assert!(err.contains("ScalableTargets[1].ResourceId"), "{err}");
    assert!(err.contains("bad.yaml"), "{err}");
    let out = autopilot(&["validate", "does/not/exist.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read does/not/exist.yaml"));
}

#[test]
fn schedule_next_prints_rfc3339_utc_lines() {
    let out = autopilot(&[
        "schedule",
        "next",
        "cron(0 9 ? * MON-FRI *)",
        "--timezone",
        "America/New_York",
        "--after",
        "2026-03-06T00:00:00Z",
        "--count",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "2026-03-06T14:00:00Z\n2026-03-09T13:00:00Z\n2026-03-10T13:00:00Z\n");
    let out = autopilot(&[
        "schedule",
        "next",
        "rate(90 minutes)",
        "--start-time",
        "2026-01-01T00:00:00Z",
        "--after",
        "2026-01-01T00:00:00Z",
        "--end-time",
        "2026-01-01T03:00:00Z",
        "--count",
        "9",
    ]);
    assert_eq!(text(&out.stdout), "2026-01-01T01:30:00Z\n2026-01-01T03:00:00Z\n");
    let out = autopilot(&[
        "schedule",
        "next",
        "at(2026-07-01T09:00:00)",
        "--timezone",
        "Europe/London",
        "--after",
        "2026-01-01T00:00:00Z",
    ]);
    assert_eq!(text(&out.stdout), "2026-07-01T08:00:00Z\n");
}

#[test]
fn schedule_next_rejects_bad_expressions_with_exit_2() {
    for (args, want) in [
        (vec!["schedule", "next", "cron(0 9 * * MON *)"], "exactly one of them must be `?`"),
        (vec!["schedule", "next", "rate(1 fortnight)"], "minute(s), hour(s) or day(s)"),
        (vec!["schedule", "next", "cron(0 9 * * ? *)", "--timezone", "Moon/Base"], "unknown time zone"),
        (vec!["schedule", "next", "cron(0 9 * * ? *)", "--after", "soon"], "--after: invalid timestamp"),
    ] {
        let out = autopilot(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(want), "{args:?}: {}", text(&out.stderr));
    }
    // A usage error (unknown flag) is also exit 2.
    assert_eq!(autopilot(&["schedule", "next"]).status.code(), Some(2));
}

#[test]
fn evaluate_prints_one_decision_per_target_and_keeps_memory() {
    let dir = tempdir();
    let obs = dir.join("obs.json");
    let points: Vec<String> =
        (0..15).map(|i| format!("{{\"timestamp\": \"2026-01-01T00:{i:02}:00Z\", \"value\": 95.0}}")).collect();
    std::fs::write(
        &obs,
        format!("{{\"service/prod-cluster/web\": {{\"desired_count\": 10, \"running_count\": 10, \"metrics\": {{\"ECSServiceAverageCPUUtilization\": [{}]}}}}}}", points.join(",")),
    )
    .unwrap();
    let memory = dir.join("memory.json");
    let out = autopilot(&[
        "evaluate",
        "--config",
        "examples/config/describe-outputs.json",
        "--observations",
        obs.to_str().unwrap(),
        "--memory-out",
        memory.to_str().unwrap(),
        "--now",
        "2026-01-01T00:14:59Z",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let decision: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(decision["desired"], 14);
    assert_eq!(decision["reason"]["code"], "ScaledOut");
    assert_eq!(decision["actions"][0], serde_json::json!({"type": "set_desired_count", "from": 10, "to": 14}));
    let memory_json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&memory).unwrap()).unwrap();
    assert_eq!(memory_json["targets"]["service/prod-cluster/web"]["last_scale_out"]["to"], 14);
    // The memory written reads back; any other JSON object is refused.
    let again = |memory: &Path| {
        autopilot(&[
            "evaluate",
            "--config",
            "examples/config/describe-outputs.json",
            "--observations",
            obs.to_str().unwrap(),
            "--memory",
            memory.to_str().unwrap(),
            "--now",
            "2026-01-01T00:15:59Z",
        ])
    };
    assert_eq!(again(&memory).status.code(), Some(0));
    let foreign = dir.join("foreign.json");
    std::fs::write(&foreign, r#"{"desired": 4}"#).unwrap();
    let out = again(&foreign);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown field `desired`"), "{}", text(&out.stderr));
}

fn tempdir() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn test_event_pattern_behaves_like_the_aws_cli() {
    let event = r#"{"id":"1","account":"123456789012","source":"aws.ecs","time":"2026-11-30T00:00:00Z","region":"us-east-1","detail-type":"ECS Task State Change","detail":{"lastStatus":"RUNNING"}}"#;
    let out = autopilot(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"detail":{"lastStatus":["RUNNING"]}}"#,
        "--event",
        event,
    ]);
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "{\"Result\": true}\n".to_owned()));
    let out = autopilot(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"detail":{"lastStatus":["STOPPED"]}}"#,
        "--event",
        event,
    ]);
    assert_eq!(text(&out.stdout), "{\"Result\": false}\n");
    let out = autopilot(&[
        "test-event-pattern",
        "--event-pattern",
        "file://tests/fixtures/patterns/task-running.json",
        "--event",
        "file://tests/fixtures/events/ecs-task-state-change.json",
    ]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(0), "{\"Result\": true}\n".to_owned()),
        "{}",
        text(&out.stderr)
    );
    let out = autopilot(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"detail":{"n":[{"numeric":[">",0,">",0]}]}}"#,
        "--event",
        event,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Event pattern is not valid. Reason: Bad numeric range operator: >"),
        "{}",
        text(&out.stderr)
    );
    // AWS's TestEventPattern refuses an event without its envelope; each
    // missing field is named.
    for field in ["id", "account", "source", "time", "region", "detail-type"] {
        let mut value: serde_json::Value = serde_json::from_str(event).unwrap();
        value.as_object_mut().unwrap().remove(field);
        let out = autopilot(&[
            "test-event-pattern",
            "--event-pattern",
            r#"{"detail":{"lastStatus":["RUNNING"]}}"#,
            "--event",
            &value.to_string(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{field}");
        assert!(
            text(&out.stderr).contains(&format!("Parameter Event is not valid: `{field}` is missing")),
            "{}",
            text(&out.stderr)
        );
    }
    let out = autopilot(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"detail":{"lastStatus":["RUNNING"]}}"#,
        "--event",
        &event.replace(r#""time":"2026-11-30T00:00:00Z""#, r#""time":5"#),
    ]);
    assert!(text(&out.stderr).contains("`time` is missing or not a string"), "{}", text(&out.stderr));
}

#[test]
fn route_prints_matches_per_line_and_stats() {
    let dir = tempdir();
    let events = dir.join("events.jsonl");
    let task = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events/ecs-task-state-change.json"),
    )
    .unwrap();
    let task: serde_json::Value = serde_json::from_str(&task).unwrap();
    std::fs::write(&events, format!("{task}\n\n{{\"id\": \"x\", \"source\": \"other\"}}\n")).unwrap();
    let out = autopilot(&[
        "route",
        "--rules",
        "infra/template.yaml",
        "--param",
        "ClusterArns=arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster",
        events.to_str().unwrap(),
        "--stats",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines[0],
        serde_json::json!({"line": 1, "id": "3317b2af-7005-947d-b652-f55e762e571a", "rules": ["EcsTaskStateRule"]})
    );
    assert_eq!(lines[1], serde_json::json!({"line": 3, "id": "x", "rules": []}));
    let stats: serde_json::Value = serde_json::from_str(text(&out.stderr).trim()).unwrap();
    assert_eq!((stats["events"].as_u64(), stats["matches"]["EcsTaskStateRule"].as_u64()), (Some(2), Some(1)));
}

#[test]
fn route_names_the_line_of_a_bad_event_and_exits_2() {
    let dir = tempdir();
    let events = dir.join("bad.jsonl");
    std::fs::write(&events, "{\"id\": \"1\"}\n{\"id\": tru}\n").unwrap();
    let out = autopilot(&["route", "--rules", "infra/template.yaml", events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad.jsonl:2: malformed event JSON"), "{}", text(&out.stderr));
    let rules = dir.join("rules.json");
    std::fs::write(&rules, r#"{"broken": {"a": []}}"#).unwrap();
    let out = autopilot(&["route", "--rules", rules.to_str().unwrap(), events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("broken") && text(&out.stderr).contains("Empty arrays are not allowed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn capacity_plan_prints_table_and_json() {
    let out = autopilot(&["capacity", "plan", "examples/capacity/snapshot.json", "--now", "2026-11-22T03:00:00Z"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("instances needed (M)    3") && table.contains("desired capacity        3 -> 4"), "{table}");
    let out = autopilot(&[
        "capacity",
        "plan",
        "examples/capacity/snapshot.json",
        "--now",
        "2026-11-22T03:00:00Z",
        "--format",
        "json",
        "--mode",
        "aws",
    ]);
    let plan: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(
        (plan["m"].as_u64(), plan["n"].as_u64(), plan["reservation_percent"].as_f64()),
        (Some(3), Some(3), Some(100.0))
    );
    let dir = tempdir();
    let bad = dir.join("snapshot.json");
    std::fs::write(&bad, r#"{"capacityProviders": [], "instanceTypes": {}}"#).unwrap();
    let out = autopilot(&["capacity", "plan", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("capacityProviders"), "{}", text(&out.stderr));
}

/// docs/capacity.md "Several capacity providers": each Auto Scaling group
/// provider planned on its own, Fargate's said to need nothing.
#[test]
fn capacity_plan_plans_every_provider_of_a_mixed_cluster_and_a_fargate_only_one() {
    let mixed = "tests/fixtures/capacity/mixed-providers.json";
    let out = autopilot(&["capacity", "plan", mixed, "--now", "2026-11-22T03:00:00Z", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let desired: Vec<(&str, u64)> = plan["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["capacity_provider"].as_str().unwrap(), d["desired"].as_u64().unwrap()))
        .collect();
    assert_eq!(desired, [("prod-od", 4), ("prod-spot", 7)]);
    let without: Vec<&str> = plan["without_instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["capacity_provider"].as_str().unwrap())
        .collect();
    assert_eq!(without, ["FARGATE", "FARGATE_SPOT"]);
    // One provider chosen: the single-decision shape.
    let out = autopilot(&["capacity", "plan", mixed, "--capacity-provider", "prod-spot", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(plan["capacity_provider"], "prod-spot");
    let out = autopilot(&["capacity", "plan", "tests/fixtures/capacity/fargate-only.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("FARGATE (no Auto Scaling group"), "{}", text(&out.stdout));
    // `Autopilot.Capacity` of a configuration applies; a flag wins over it.
    let dir = tempdir();
    let config = dir.join("capacity.yaml");
    std::fs::write(&config, "Autopilot:\n  Capacity:\n    DisruptionBudget: {WindowSeconds: 5}\n").unwrap();
    let out = autopilot(&["capacity", "plan", mixed, "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Autopilot.Capacity.DisruptionBudget.WindowSeconds: 5 must be from 60 to 3600"));
    std::fs::write(&config, "Autopilot:\n  Capacity:\n    DisruptionBudget: {WindowSeconds: 120}\n").unwrap();
    let out = autopilot(&[
        "capacity",
        "plan",
        mixed,
        "--config",
        config.to_str().unwrap(),
        "--disruption-window-seconds",
        "5",
    ]);
    assert_eq!(text(&out.stderr).trim(), "autopilot: --disruption-window-seconds: 5 must be from 60 to 3600");
    // The disruption budget is checked, naming the flag.
    let out = autopilot(&["capacity", "plan", mixed, "--disruption-window-seconds", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).trim(), "autopilot: --disruption-window-seconds: 5 must be from 60 to 3600");
}

#[test]
fn replay_writes_svg_and_png_charts() {
    let dir = tempdir();
    let svg = dir.join("spike.svg");
    let out = autopilot(&["replay", "--scenario", "examples/scenarios/spike.yaml", "--chart", svg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("spike -> first scale-out decision"));
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg"));
    // What a reader needs (docs/simulation.md "Charts"): the stream both
    // read, axis titles with units, max_tasks as a line, the target, the
    // marker where demand rises, the shading's meaning, the scorecard.
    for expected in [
        "metric stream (both controllers): 60 s datapoints",
        "time since start (minutes)",
        "CPU utilization (%)",
        "max_tasks 60",
        "target 50 %",
        "demand rises",
        "under-provisioned time",
        "CPU the tasks really had",
        "ecs-autopilot: CPU metric read (60 s + 150 s delay)",
        "under-provisioned task-seconds",
    ] {
        assert!(chart.contains(expected), "chart lacks {expected:?}");
    }
    let png = dir.join("spike.png");
    let out = autopilot(&["replay", "--scenario", "examples/scenarios/spike.yaml", "--chart", png.to_str().unwrap()]);
    if cfg!(feature = "png") {
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 10_000, "a real chart, not an empty image");
    } else {
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("`png` feature"), "{}", text(&out.stderr));
    }
}

#[test]
fn a_chart_of_a_recorded_replay_is_an_error_not_a_silent_no_op() {
    let dir = tempdir();
    let svg = dir.join("recorded.svg");
    let out = autopilot(&[
        "replay",
        "--events",
        "examples/recorded/events.jsonl",
        "--config",
        "examples/config/fast-with-extensions.yaml",
        "--chart",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--chart draws a scenario run"), "{}", text(&out.stderr));
    assert!(!svg.exists());
}

#[test]
fn a_key_given_twice_is_refused_naming_it_in_every_document_kind() {
    let dir = tempdir();
    let config = dir.join("dup-config.yaml");
    std::fs::write(
        &config,
        "ScalableTargets:\n  - {ResourceId: service/c/web, MinCapacity: 1, MaxCapacity: 9, MaxCapacity: 90}\n",
    )
    .unwrap();
    let out = autopilot(&["validate", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("duplicate key `MaxCapacity`"), "{all}");
    let scenario = dir.join("dup-scenario.yaml");
    std::fs::write(&scenario, "name: a\nname: b\n").unwrap();
    let out = autopilot(&["replay", "--scenario", scenario.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("duplicate key `name`"), "{}", text(&out.stderr));
    let json = dir.join("dup.json");
    std::fs::write(&json, r#"{"ScalableTargets": [], "ScalableTargets": []}"#).unwrap();
    let out = autopilot(&["validate", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("duplicate key `ScalableTargets`"), "{all}");
}

#[test]
fn a_day_long_chart_has_hour_ticks() {
    let dir = tempdir();
    let svg = dir.join("diurnal.svg");
    let out = autopilot(&["replay", "--scenario", "examples/scenarios/diurnal.yaml", "--chart", svg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.contains("time since start (hours)") && chart.contains(">12 h<"), "hour ticks");
}

#[test]
fn a_cluster_scenario_prints_capacity_rows_and_exports_routable_events() {
    let dir = tempdir();
    let events = dir.join("events.jsonl");
    let decisions = dir.join("decisions.jsonl");
    let out = autopilot(&[
        "replay",
        "--scenario",
        "examples/scenarios/cold-cluster.yaml",
        "--events-out",
        events.to_str().unwrap(),
        "--decisions",
        decisions.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("instance-hours") && table.contains("minutes with placement failures"), "{table}");
    assert!(text(&out.stderr).is_empty(), "no progress line when stderr is not a terminal");
    let log = std::fs::read_to_string(&decisions).unwrap();
    assert!(log.lines().any(|l| l.contains("\"capacity_provider\"")), "capacity decisions are in the log");
    let out = autopilot(&[
        "route",
        "--rules",
        "infra/template.yaml",
        "--param",
        "ClusterArns=arn:aws:ecs:us-east-1:123456789012:cluster/sim",
        "--stats",
        events.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let routed = text(&out.stdout);
    assert!(
        routed.lines().filter(|l| l.contains("\"rules\":[]")).count() == 0,
        "every simulated event routes: {routed}"
    );
    let stats = text(&out.stderr);
    assert!(!stats.contains("\"EcsServiceActionRule\":0") && !stats.contains("\"EcsTaskStateRule\":0"), "{stats}");
}

#[test]
fn csv_demand_is_read_next_to_the_scenario_and_a_bad_row_is_named() {
    let out = autopilot(&["replay", "--scenario", "examples/scenarios/recorded-demand.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let dir = tempdir();
    let scenario = std::fs::read_to_string("examples/scenarios/recorded-demand.yaml").unwrap();
    std::fs::write(dir.join("recorded-demand.yaml"), scenario).unwrap();
    std::fs::write(dir.join("recorded-demand.csv"), "second,rps\n0,100\n60,lots\n").unwrap();
    let out = autopilot(&["replay", "--scenario", dir.join("recorded-demand.yaml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("recorded-demand.csv: line 3: \"60,lots\" is not a whole second and a number"), "{err}");
}

#[test]
fn a_closed_pipe_ends_the_command_quietly_with_sigpipes_status() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_autopilot"))
        .args(["schedule", "next", "rate(1 minute)", "--count", "1000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // The reader is dropped here: the pipe closes, as `| head -1` does.
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with("20"), "{first}");
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "no panic, no message: {}", text(&out.stderr));
}

/// A full disk ends the command with status 1 and says what could not be
/// written, for standard output and for an output file alike (issue 16).
#[test]
fn a_full_disk_ends_the_command_with_status_1_naming_what_failed() {
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_autopilot"))
        .args(["schedule", "next", "rate(1 minute)", "--count", "100", "--after", "2026-01-01T00:00:00Z"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot write to standard output"), "{}", text(&out.stderr));
    let out = autopilot(&[
        "replay",
        "--scenario",
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/scenarios/spike.yaml"),
        "--decisions",
        "/dev/full",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("/dev/full"), "{}", text(&out.stderr));
}
