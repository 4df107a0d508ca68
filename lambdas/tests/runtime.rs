//! The built `autopilot-controller` binary under a local Lambda Runtime API
//! (tests/support), against moto: cold start, one invocation end to end, and
//! an invalid configuration failing the init with the field named.

mod support;

use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::Moto;

const CONFIG: &str = r#"
ScalableTargets:
  - {ResourceId: service/prod/api, MinCapacity: 1, MaxCapacity: 10}
ScheduledActions:
  - ScheduledActionName: always-three
    ResourceId: service/prod/api
    Schedule: cron(* * * * ? *)
    ScalableTargetAction: {MinCapacity: 3, MaxCapacity: 10}
"#;

async fn world(sdk: &aws_config::SdkConfig) {
    support::create_api_service(sdk).await;
    support::create_state_table(sdk, "state").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_binary_serves_an_invocation_from_the_runtime_api() {
    let moto = Moto::start();
    let sdk = support::sdk(&moto).await;
    world(&sdk).await;
    let dir = std::env::temp_dir().join(format!("autopilot-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("autopilot.yaml");
    std::fs::write(&config, CONFIG).unwrap();

    let (api, requests) = support::runtime_api(vec![support::task_event("e-1", "t1"), json!({"not": "an event"})]);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_autopilot-controller"))
        .env_clear()
        .envs(support::lambda_env(&api, &moto))
        .env("AUTOPILOT_CONFIG_FILE", &config)
        .env("AUTOPILOT_STATE_TABLE", "state")
        .env("AUTOPILOT_EVENT_BUS", "default")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let recv = || requests.recv_timeout(Duration::from_secs(60)).expect("runtime API request");
    let first = recv();
    assert_eq!((first.method.as_str(), first.path.as_str()), ("GET", "/2018-06-01/runtime/invocation/next"));
    let cold_start = first.at.duration_since(started);
    let response = recv();
    assert_eq!(response.path, "/2018-06-01/runtime/invocation/req-0/response", "{response:?}");
    let report: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(report["decisions"][0]["desired"], 3, "{report}");
    assert_eq!(report["decisions"][0]["reason"]["code"], "ScheduledAction", "{report}");
    let next = recv();
    assert_eq!(next.path, "/2018-06-01/runtime/invocation/next");
    // A poison event is acknowledged with its reason, not failed.
    let poison = recv();
    assert_eq!(poison.path, "/2018-06-01/runtime/invocation/req-1/response", "{poison:?}");
    assert!(poison.body.contains("malformed event"), "{}", poison.body);
    let _ = recv(); // the runtime waits for the next event
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.lines().any(|l| l.contains("\"CloudWatchMetrics\"") && l.contains("\"DesiredCount\":3")),
        "an EMF line:\n{stdout}"
    );
    assert!(stdout.lines().any(|l| l.contains("\"message\":\"decision\"")), "a JSON decision log:\n{stdout}");

    let desired =
        aws_sdk_ecs::Client::new(&sdk).describe_services().cluster("prod").services("api").send().await.unwrap();
    assert_eq!(desired.services()[0].desired_count(), 3, "UpdateService reached moto");
    println!("cold start (process start -> first /next): {:.1} ms", cold_start.as_secs_f64() * 1000.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_invalid_configuration_fails_the_init_naming_the_field() {
    let moto = Moto::start();
    let dir = std::env::temp_dir().join(format!("autopilot-badconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("autopilot.yaml");
    std::fs::write(&config, CONFIG.replace("MinCapacity: 1, MaxCapacity: 10", "MinCapacity: 12, MaxCapacity: 10"))
        .unwrap();
    let (api, requests) = support::runtime_api(vec![]);
    let output = Command::new(env!("CARGO_BIN_EXE_autopilot-controller"))
        .env_clear()
        .envs(support::lambda_env(&api, &moto))
        .env("AUTOPILOT_CONFIG_FILE", &config)
        .env("AUTOPILOT_STATE_TABLE", "state")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ScalableTargets[0]") && stderr.contains("MinCapacity"), "{stderr}");
    assert!(requests.try_recv().is_err(), "no invocation is taken before the init succeeds");
    let _ = std::fs::remove_dir_all(&dir);
}
