//! Test support: a moto server per test on a free loopback port, SDK
//! configuration pointing at it, and a minimal Lambda Runtime API.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `moto_server`, killed on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn moto_binary() -> PathBuf {
    if let Ok(path) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    assert!(
        venv.exists(),
        "moto_server not found at {}: run ./scripts/test (it installs moto into .venv) or set MOTO_SERVER",
        venv.display()
    );
    venv
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(moto_binary())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let url = format!("http://127.0.0.1:{port}");
        // Wait for the port to accept connections (process start-up, not a
        // timing assumption of the test itself).
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SDK configuration for moto: fixed test credentials, no retries (moto's
/// 500s fail fast).
pub async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(autopilot_lambdas::edge::http_client())
        .endpoint_url(&moto.url)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new("testing", "testing", None, None, "moto"))
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .load()
        .await
}

/// The state table (partition key `pk`), on demand.
pub async fn create_state_table(sdk: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// Cluster `prod` with service `api` (bridge networking) running 2 tasks.
pub async fn create_api_service(sdk: &aws_config::SdkConfig) {
    use aws_sdk_ecs::types::{ContainerDefinition, NetworkMode, PortMapping};
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_cluster().cluster_name("prod").send().await.unwrap();
    ecs.register_task_definition()
        .family("api")
        .network_mode(NetworkMode::Bridge)
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/nginx/nginx:latest")
                .cpu(256)
                .memory(512)
                .port_mappings(PortMapping::builder().container_port(80).host_port(0).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    ecs.create_service()
        .cluster("prod")
        .service_name("api")
        .task_definition("api")
        .desired_count(2)
        .send()
        .await
        .unwrap();
    // moto runs no tasks; UpdateService copies desired to running (a known
    // moto gap), which gives the service its two running tasks.
    ecs.update_service().cluster("prod").service("api").desired_count(2).send().await.unwrap();
}

/// The example ECS task event, for a task of service `api` in `prod`.
pub fn task_event(id: &str, task: &str) -> serde_json::Value {
    let mut e: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/events/ecs-task-state-change.json")).unwrap();
    e["id"] = serde_json::json!(id);
    e["detail"]["group"] = serde_json::json!("service:api");
    e["detail"]["clusterArn"] = serde_json::json!("arn:aws:ecs:us-east-1:123456789012:cluster/prod");
    e["detail"]["taskArn"] = serde_json::json!(format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{task}"));
    e
}

/// One request the runtime API received.
#[derive(Debug)]
pub struct RuntimeRequest {
    pub method: String,
    pub path: String,
    pub body: String,
    pub at: Instant,
}

/// A Lambda Runtime API on a free port that hands out `events` one by one
/// (then holds `/next` open) and reports every request on a channel.
pub fn runtime_api(events: Vec<serde_json::Value>) -> (String, mpsc::Receiver<RuntimeRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut events = events.into_iter().enumerate();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            // One connection at a time: the runtime client keeps one alive.
            if serve(stream, &mut events, &tx).is_err() {
                continue;
            }
        }
    });
    (address, rx)
}

fn serve(
    stream: TcpStream,
    events: &mut impl Iterator<Item = (usize, serde_json::Value)>,
    tx: &mpsc::Sender<RuntimeRequest>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let at = Instant::now();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            if header == "\r\n" || header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let body = String::from_utf8_lossy(&body).into_owned();
        let is_next = path.ends_with("/runtime/invocation/next");
        let _ = tx.send(RuntimeRequest { method, path, body, at });
        if is_next {
            let Some((n, event)) = events.next() else {
                // No more events: leave the runtime waiting, as Lambda does
                // between invocations; the test kills the process.
                std::thread::park();
                return Ok(());
            };
            let payload = event.to_string();
            let deadline =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 30_000;
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: req-{n}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:autopilot-controller\r\nLambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793\r\nContent-Length: {}\r\n\r\n{payload}",
                payload.len()
            )?;
        } else {
            write!(writer, "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{{\"status\":\"OK\"}}")?;
        }
        writer.flush()?;
    }
}

/// Environment a Lambda function process sees (besides our own variables).
pub fn lambda_env(runtime_api: &str, moto: &Moto) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", "autopilot-controller"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/22/[$LATEST]test"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/autopilot-controller"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", &moto.url),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// An Auto Scaling group `group` of t2.medium instances in us-east-1a
/// (launch configuration `ecs`, created with the first group), its
/// capacity provider `provider` with managed scaling at 100 % and
/// `warmup_seconds` of instance warm-up, and its instances registered as
/// container instances of the existing cluster `cluster`. Returns the EC2
/// instance ids.
pub async fn asg_capacity_provider(
    sdk: &aws_config::SdkConfig,
    cluster: &str,
    (group, provider): (&str, &str),
    (desired, max): (i32, i32),
    warmup_seconds: Option<i32>,
) -> Vec<String> {
    use aws_sdk_ecs::types::{AutoScalingGroupProvider, ManagedScaling, ManagedScalingStatus};
    let asg = aws_sdk_autoscaling::Client::new(sdk);
    let existing = asg.describe_launch_configurations().launch_configuration_names("ecs").send().await.unwrap();
    if existing.launch_configurations().is_empty() {
        asg.create_launch_configuration()
            .launch_configuration_name("ecs")
            .image_id("ami-12c6146b")
            .instance_type("t2.medium")
            .send()
            .await
            .unwrap();
    }
    asg.create_auto_scaling_group()
        .auto_scaling_group_name(group)
        .launch_configuration_name("ecs")
        .min_size(0)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap();
    let described = asg.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
    let described = &described.auto_scaling_groups()[0];
    let ecs = aws_sdk_ecs::Client::new(sdk);
    ecs.create_capacity_provider()
        .name(provider)
        .auto_scaling_group_provider(
            AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(described.auto_scaling_group_arn().unwrap())
                .managed_scaling(
                    ManagedScaling::builder()
                        .status(ManagedScalingStatus::Enabled)
                        .target_capacity(100)
                        .set_instance_warmup_period(warmup_seconds)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ids: Vec<String> = described.instances().iter().map(|i| i.instance_id().unwrap().to_owned()).collect();
    for id in &ids {
        let document = serde_json::json!({"instanceId": id, "availabilityZone": "us-east-1a", "region": "us-east-1"});
        ecs.register_container_instance()
            .cluster(cluster)
            .instance_identity_document(document.to_string())
            .send()
            .await
            .unwrap();
    }
    ids
}
