//! Fleet bench: one tick of the controller over 10 to 5,000 services in 1,
//! 10 and 50 clusters, through the production handler
//! (`handler::invoke`, as the Lambda runs it: the tick's first round, then
//! its polls every 10 s) with in-memory ports that model each AWS API's
//! latency and its account-wide token bucket, and the SDK's standard retry
//! (exponential backoff with full jitter). Time is tokio's paused clock, so
//! wall times are modelled, not measured on this machine. The tick is done
//! when every target's first evaluation of the minute is written.
//!
//! Reproduce: `cargo bench --bench fleet` (docs/fleet.md explains the model;
//! BENCHMARKS.md holds the figures). `FLEET_SIZES=1000` limits the sizes.
//!
//! Prints per run: tick wall time, calls per API (attempts), throttled
//! attempts, calls that failed after every retry, deferred targets, and the
//! invocation's peak heap.

use ecs_autopilot::config::{self, Config, MetricId, MetricQuery};
use ecs_autopilot::handler::{invoke, ApiBudget, Report, ServicePorts, Settings, Shard};
use ecs_autopilot::memory::Datapoint;
use ecs_autopilot::ports::memory::InMemoryState;
use ecs_autopilot::ports::{
    Clock, DecisionPort, MetricsPort, PortError, SaveOutcome, ServicePort, ServiceSnapshot, StatePort, Stored,
};
use jiff::Timestamp;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// Heap in use and its peak, for the invocation's peak memory.
struct Counting;
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged and only
// counts bytes; this is the bench binary, not the library.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The APIs the controller calls, with the model of each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Api {
    DescribeServices,
    UpdateService,
    GetMetricData,
    BatchGetItem,
    GetItem,
    PutItem,
    PutEvents,
}

impl Api {
    const ALL: [Api; 7] = [
        Api::DescribeServices,
        Api::UpdateService,
        Api::GetMetricData,
        Api::BatchGetItem,
        Api::GetItem,
        Api::PutItem,
        Api::PutEvents,
    ];

    fn name(self) -> &'static str {
        match self {
            Api::DescribeServices => "DescribeServices",
            Api::UpdateService => "UpdateService",
            Api::GetMetricData => "GetMetricData",
            Api::BatchGetItem => "BatchGetItem",
            Api::GetItem => "GetItem",
            Api::PutItem => "PutItem",
            Api::PutEvents => "PutEvents",
        }
    }

    /// Modelled latency of one call (docs/fleet.md, "The fleet bench").
    fn latency(self, items: usize) -> Duration {
        let ms = match self {
            Api::DescribeServices => 30 + 2 * items as u64,
            Api::UpdateService => 80,
            Api::GetMetricData => 150 + items as u64 / 5,
            Api::BatchGetItem => 10 + items as u64 / 10,
            Api::GetItem | Api::PutItem => 8,
            Api::PutEvents => 20 + items as u64,
        };
        Duration::from_millis(ms)
    }

    /// The account's token bucket: (burst, refill per second)
    /// (docs/fleet.md, "AWS's limits").
    fn bucket(self) -> (f64, f64) {
        match self {
            Api::DescribeServices => (100.0, 20.0),
            Api::UpdateService => (50.0, 5.0),
            Api::GetMetricData => (50.0, 50.0),
            Api::BatchGetItem | Api::GetItem => (3000.0, 3000.0),
            Api::PutItem => (1000.0, 1000.0),
            Api::PutEvents => (400.0, 400.0),
        }
    }
}

/// The SDK's standard retry: attempts, first backoff, longest backoff.
const ATTEMPTS: u32 = 5;
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(20);

#[derive(Default, Clone)]
struct Tally {
    attempts: u64,
    throttled: u64,
    failed: u64,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// AWS as the SDK sees it: token buckets, latencies and retries.
struct Aws {
    buckets: Mutex<HashMap<Api, Bucket>>,
    tally: Mutex<BTreeMap<Api, Tally>>,
    rng: Mutex<u64>,
    services: HashMap<String, ServiceSnapshot>,
    /// DynamoDB's items, with its conditional write: the core's fake.
    state: InMemoryState,
    /// When each record was first written: that target's evaluation done.
    first_written: Mutex<HashMap<String, Instant>>,
}

impl Aws {
    fn new(services: HashMap<String, ServiceSnapshot>, now: Instant) -> Self {
        let buckets = Api::ALL.iter().map(|a| (*a, Bucket { tokens: a.bucket().0, at: now })).collect();
        Self {
            buckets: Mutex::new(buckets),
            tally: Mutex::default(),
            rng: Mutex::new(0x9e37_79b9_7f4a_7c15),
            services,
            state: InMemoryState::default(),
            first_written: Mutex::default(),
        }
    }

    fn jitter(&self) -> f64 {
        let mut x = self.rng.lock().unwrap();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x >> 11) as f64 / (1u64 << 53) as f64
    }

    fn try_token(&self, api: Api) -> bool {
        let (burst, rate) = api.bucket();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap();
        let b = buckets.get_mut(&api).unwrap();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// One SDK call: attempts until a token is had (throttled attempts back
    /// off), then the call's latency.
    async fn call(&self, api: Api, items: usize) -> Result<(), PortError> {
        for attempt in 1..=ATTEMPTS {
            self.tally.lock().unwrap().entry(api).or_default().attempts += 1;
            if self.try_token(api) {
                tokio::time::sleep(api.latency(items)).await;
                return Ok(());
            }
            self.tally.lock().unwrap().entry(api).or_default().throttled += 1;
            if attempt < ATTEMPTS {
                let ceiling = INITIAL_BACKOFF.saturating_mul(1 << (attempt - 1)).min(MAX_BACKOFF);
                tokio::time::sleep(ceiling.mul_f64(self.jitter())).await;
            }
        }
        self.tally.lock().unwrap().entry(api).or_default().failed += 1;
        Err(PortError::retryable(api.name(), "ThrottlingException: Rate exceeded"))
    }
}

impl ServicePort for Aws {
    async fn describe(&self, resource_id: &str) -> Result<ServiceSnapshot, PortError> {
        self.call(Api::DescribeServices, 1).await?;
        self.services.get(resource_id).copied().ok_or_else(|| PortError::permanent("ecs", "missing"))
    }
    async fn set_desired_count(&self, _resource_id: &str, _desired: u32) -> Result<(), PortError> {
        self.call(Api::UpdateService, 1).await
    }
    async fn describe_batch(&self, ids: &[String]) -> Result<Vec<Result<ServiceSnapshot, PortError>>, PortError> {
        self.call(Api::DescribeServices, ids.len()).await?;
        Ok(ids
            .iter()
            .map(|id| self.services.get(id).copied().ok_or_else(|| PortError::permanent("ecs", "missing")))
            .collect())
    }
}

/// Whether a service runs hot this tick: `hot_every`-th services do.
fn load_of(query: &MetricQuery, hot_every: usize) -> f64 {
    let MetricQuery::Single { dimensions, .. } = query else { return 50.0 };
    let service = dimensions.iter().find(|d| d.name == "ServiceName").map_or("", |d| d.value.as_str());
    let n: usize = service.trim_start_matches("svc-").parse().unwrap_or(1);
    if n % hot_every == 0 {
        90.0
    } else {
        50.0
    }
}

struct Metrics<'a> {
    aws: &'a Aws,
    hot_every: usize,
}

impl MetricsPort for Metrics<'_> {
    async fn fetch(
        &self,
        queries: &[(MetricId, MetricQuery)],
        _from: Timestamp,
        to: Timestamp,
    ) -> Result<BTreeMap<MetricId, Vec<Datapoint>>, PortError> {
        self.aws.call(Api::GetMetricData, queries.len()).await?;
        Ok(queries
            .iter()
            .map(|(id, q)| {
                let sample_count = id.0.ends_with("#SampleCount");
                let value = if sample_count { 4.0 } else { load_of(q, self.hot_every) };
                // One datapoint a minute, as a 60-s metric publishes them:
                // the polls within the minute find nothing new.
                let minute = Timestamp::from_second(to.as_second() - to.as_second().rem_euclid(60)).unwrap();
                let points = (1..=3)
                    .map(|k| Datapoint {
                        timestamp: minute.checked_sub(jiff::SignedDuration::from_mins(k)).unwrap(),
                        value,
                    })
                    .collect();
                (id.clone(), points)
            })
            .collect())
    }
}

impl StatePort for Aws {
    async fn load(&self, key: &str) -> Result<Option<Stored>, PortError> {
        self.call(Api::GetItem, 1).await?;
        self.state.load(key).await
    }
    async fn save(
        &self,
        key: &str,
        body: &str,
        expected: Option<u64>,
        now: Timestamp,
    ) -> Result<SaveOutcome, PortError> {
        self.call(Api::PutItem, 1).await?;
        let outcome = self.state.save(key, body, expected, now).await?;
        if matches!(outcome, SaveOutcome::Saved { .. }) {
            self.first_written.lock().unwrap().entry(key.to_owned()).or_insert_with(Instant::now);
        }
        Ok(outcome)
    }
    async fn load_batch(&self, keys: &[String]) -> Result<BTreeMap<String, Stored>, PortError> {
        self.call(Api::BatchGetItem, keys.len()).await?;
        self.state.load_batch(keys).await
    }
}

impl DecisionPort for Aws {
    async fn publish<R: serde::Serialize + Sync>(&self, _detail_type: &str, _record: &R) -> Result<(), PortError> {
        self.call(Api::PutEvents, 1).await
    }
    async fn publish_batch<R: serde::Serialize + Sync>(&self, _d: &str, records: &[R]) -> Result<(), PortError> {
        self.call(Api::PutEvents, records.len()).await
    }
}

/// `services` services over `clusters` clusters, each with a fast-mode
/// target-tracking policy on CPU at 50 %.
fn fleet_config(services: usize, clusters: usize) -> Config {
    let mut targets = Vec::new();
    let mut policies = Vec::new();
    for i in 0..services {
        let id = format!("service/c{}/svc-{i}", i % clusters);
        targets.push(serde_json::json!({"ResourceId": id, "MinCapacity": 1, "MaxCapacity": 100}));
        policies.push(serde_json::json!({
            "PolicyName": format!("cpu-{i}"), "ResourceId": id, "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": 50.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
            }
        }));
    }
    let doc = serde_json::json!({
        "ScalableTargets": targets, "ScalingPolicies": policies,
        "Autopilot": {"Defaults": {"EvaluationMode": "fast"}}
    });
    config::load_str(&doc.to_string()).expect("the generated fleet configuration is valid")
}

fn tick_event(at: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": format!("tick-{}", at.as_second()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": at.to_string(), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/autopilot-tick"], "detail": {}
    })
}

struct Run {
    /// Until every target's first evaluation of the tick was written.
    done: Duration,
    /// Targets evaluated within the tick.
    evaluated: usize,
    tally: BTreeMap<Api, Tally>,
    deferred: usize,
    failed_targets: usize,
    peak_bytes: usize,
}

/// The invocation's clock: tokio's paused time from `start`.
struct PausedClock {
    origin: Instant,
    start: Timestamp,
}

impl Clock for PausedClock {
    fn now(&self) -> Timestamp {
        let elapsed = jiff::SignedDuration::try_from(Instant::now().duration_since(self.origin)).unwrap();
        self.start.checked_add(elapsed).unwrap()
    }
    fn sleep_until(&self, at: Timestamp) -> impl std::future::Future<Output = ()> + Send {
        let wait = Duration::try_from(at.duration_since(self.now())).unwrap_or_default();
        tokio::time::sleep(wait)
    }
}

/// One row of the table: the fleet, how the tick is split, the budget.
#[derive(Clone, Copy)]
struct Plan {
    services: usize,
    clusters: usize,
    shards: u32,
    hot_every: usize,
    budget: ApiBudget,
}

/// One tick split over `plan.shards` concurrent invocations sharing the
/// account's buckets, each run as the Lambda runs it (`invoke`: the first
/// round, then the polls); the peak heap is the largest single
/// invocation's (each shard run once more alone to measure it).
fn run(plan: Plan) -> Run {
    let Plan { services, clusters, shards, hot_every, budget } = plan;
    let config = fleet_config(services, clusters);
    let snapshots: HashMap<String, ServiceSnapshot> = config
        .targets
        .keys()
        .map(|id| (id.clone(), ServiceSnapshot { desired: 4, running: 4, ..Default::default() }))
        .collect();
    let now: Timestamp = "2026-12-06T10:00:00Z".parse().unwrap();
    let settings_of =
        |index: u32| Settings { shard: Shard::new(index, shards).unwrap(), budget, ..Settings::default() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    let (done, evaluated, tally, reports) = runtime.block_on(async {
        let aws = Aws::new(snapshots.clone(), Instant::now());
        let metrics = Metrics { aws: &aws, hot_every };
        let ports = ServicePorts { services: &aws, metrics: &metrics, state: &aws, decisions: &aws };
        let start = Instant::now();
        let clock = PausedClock { origin: start, start: now };
        let invocations = (0..shards).map(|index| {
            let (ports, config, clock) = (&ports, &config, &clock);
            async move { invoke(clock, config, settings_of(index), ports, &tick_event(now)).await }
        });
        let reports = futures_join_all(invocations).await;
        let written = aws.first_written.lock().unwrap().clone();
        let done = written.values().map(|at| at.duration_since(start)).max().unwrap_or_default();
        let tally = aws.tally.lock().unwrap().clone();
        (done, written.len(), tally, reports)
    });
    let (mut deferred, mut failed_targets) = (0, 0);
    for r in &reports {
        match r {
            Ok(Report { deferred: d, .. }) => deferred += d.len(),
            Err(ecs_autopilot::handler::HandlerError::Targets { failures }) => failed_targets += failures.len(),
            Err(_) => failed_targets += 1,
        }
    }
    drop(reports);
    // Peak heap of one invocation: each shard alone, from a settled heap.
    let mut peak_bytes = 0;
    for index in 0..shards {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let base = IN_USE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        runtime.block_on(async {
            let aws = Aws::new(snapshots.clone(), Instant::now());
            let metrics = Metrics { aws: &aws, hot_every };
            let ports = ServicePorts { services: &aws, metrics: &metrics, state: &aws, decisions: &aws };
            let clock = PausedClock { origin: Instant::now(), start: now };
            let _ = invoke(&clock, &config, settings_of(index), &ports, &tick_event(now)).await;
        });
        peak_bytes = peak_bytes.max(PEAK.load(Ordering::Relaxed) - base);
    }
    Run { done, evaluated, tally, deferred, failed_targets, peak_bytes }
}

/// Joins futures on one task (the invocations of a fanned-out tick).
async fn futures_join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futures: Vec<_> = futures.map(Box::pin).collect();
    let outputs: RefCell<Vec<Option<F::Output>>> = RefCell::new((0..futures.len()).map(|_| None).collect());
    let mut pending: Vec<_> = futures.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(out) => {
                outputs.borrow_mut()[*i] = Some(out);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_inner().into_iter().map(|o| o.expect("every invocation finished")).collect()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let sizes: Vec<usize> = std::env::var("FLEET_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 100, 1000, 5000]);
    let defaults = ApiBudget::default();
    println!(
        "fleet tick: handler::invoke over modelled AWS (latency, token buckets, SDK standard retry, {ATTEMPTS} attempts); \
         concurrency {}; default budget per round (fleet-wide, split over shards): DescribeServices {}, \
         GetMetricData {}, UpdateService {}",
        Settings::default().concurrency,
        defaults.describe_services,
        defaults.get_metric_data,
        defaults.update_service,
    );
    println!(
        "| services | clusters | shards | hot | Describe budget | tick done s | evaluated | Describe | Update | GetMetricData | BatchGet | PutItem | PutEvents | ECS calls | throttled | failed | deferred | peak MB |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let plan = |services, clusters, shards, hot_every, describe_services| Plan {
        services,
        clusters,
        shards,
        hot_every,
        budget: ApiBudget { describe_services, ..defaults },
    };
    let mut plans = Vec::new();
    for &services in &sizes {
        for clusters in [1, 10, 50] {
            plans.push(plan(services, clusters, 1, 50, defaults.describe_services));
        }
    }
    for &services in &sizes {
        if services >= 1000 {
            // A hot fleet: the UpdateService budget defers scalings.
            plans.push(plan(services, 10, 1, 5, defaults.describe_services));
            // The fan-out: four invocations sharing the budget.
            plans.push(plan(services, 10, 4, 50, defaults.describe_services));
        }
    }
    for p in plans {
        let r = run(p);
        let get = |api: Api| r.tally.get(&api).cloned().unwrap_or_default();
        let ecs = get(Api::DescribeServices).attempts + get(Api::UpdateService).attempts;
        let throttled: u64 = r.tally.values().map(|t| t.throttled).sum();
        let failed: u64 = r.tally.values().map(|t| t.failed).sum();
        println!(
            "| {} | {} | {} | 1 in {} | {} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {ecs} | {throttled} | {failed} | {} | {:.1} |",
            p.services,
            p.clusters,
            p.shards,
            p.hot_every,
            p.budget.describe_services,
            r.done.as_secs_f64(),
            r.evaluated,
            get(Api::DescribeServices).attempts,
            get(Api::UpdateService).attempts,
            get(Api::GetMetricData).attempts,
            get(Api::BatchGetItem).attempts,
            get(Api::PutItem).attempts,
            get(Api::PutEvents).attempts,
            r.deferred,
            r.peak_bytes as f64 / 1e6,
        );
        assert_eq!(r.failed_targets, 0, "no target may fail: {} services", p.services);
        if p.hot_every == 50 {
            // A hot fleet may need more UpdateService calls than the
            // budget gives a minute: its rows show how many waited.
            assert_eq!(r.evaluated, p.services, "every target is evaluated within the tick");
        }
    }
}
