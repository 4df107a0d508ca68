//! The service's tasks in the closed loop, one by one, and the EventBridge
//! events ECS would send about them: `ECS Task State Change` (PROVISIONING,
//! PENDING, RUNNING, STOPPED, each with its `version`) and `ECS Service
//! Action` `SERVICE_TASK_PLACEMENT_FAILURE`. The engine feeds these events
//! to the controller through the handler's own parsing, routing and ledger,
//! and can export them as JSON Lines (`autopilot replay --events-out`).
//!
//! Owns: task identities and lifecycles, event envelopes. May not touch:
//! the clock (`t` and the instant are arguments).

use jiff::Timestamp;
use serde_json::{json, Value};
use std::collections::VecDeque;

/// The simulated account and region every simulated resource lives in.
pub(super) const ACCOUNT: &str = "123456789012";
pub(super) const REGION: &str = "us-east-1";

/// Every task of the simulated service, by stage, with the events emitted.
#[derive(Clone, Debug)]
pub struct TaskBook {
    cluster: String,
    service: String,
    next_id: u64,
    next_event: u64,
    /// Waiting for an instance (EC2 capacity), oldest first.
    pub provisioning: VecDeque<u64>,
    /// Placed, RUNNING at the given second; ordered by that second.
    pub starting: VecDeque<(u32, u64)>,
    /// RUNNING, oldest first, with the second each became RUNNING.
    pub running: VecDeque<(u64, u32)>,
    /// Events not yet handed to the controller.
    pub pending_events: Vec<Value>,
    prefix: String,
    /// Ids up to this one are the initial tasks (healthy from the start).
    initial: u64,
}

impl TaskBook {
    /// `initial` RUNNING tasks of `service/<cluster>/<service>`.
    #[must_use]
    pub fn new(cluster: &str, service: &str, initial: u32, prefix: &str) -> Self {
        let mut book = Self {
            cluster: cluster.into(),
            service: service.into(),
            next_id: 0,
            next_event: 0,
            provisioning: VecDeque::new(),
            starting: VecDeque::new(),
            running: VecDeque::new(),
            pending_events: Vec::new(),
            prefix: prefix.into(),
            initial: u64::from(initial),
        };
        for _ in 0..initial {
            let id = book.new_id();
            // Initial tasks have long passed their health checks.
            book.running.push_back((id, 0));
        }
        book
    }

    /// The id of the newest task created so far.
    #[must_use]
    pub fn last_id(&self) -> u64 {
        self.next_id
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    #[must_use]
    pub fn running_count(&self) -> u32 {
        self.running.len() as u32
    }

    #[must_use]
    pub fn starting_count(&self) -> u32 {
        self.starting.len() as u32
    }

    #[must_use]
    pub fn provisioning_count(&self) -> u32 {
        self.provisioning.len() as u32
    }

    /// RUNNING tasks that passed their health checks (`healthy_after`
    /// seconds after RUNNING; initial tasks always).
    #[must_use]
    pub fn serving_count(&self, t: u32, healthy_after: u32) -> u32 {
        if healthy_after == 0 {
            return self.running_count();
        }
        self.running.iter().filter(|(id, since)| *id <= self.initial || t >= since + healthy_after).count() as u32
    }

    /// RUNNING, starting and waiting tasks.
    #[must_use]
    pub fn in_flight(&self) -> u32 {
        self.running_count() + self.starting_count() + self.provisioning_count()
    }

    fn cluster_arn(&self) -> String {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{}", self.cluster)
    }

    fn task_arn(&self, id: u64) -> String {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task/{}/{}-{id:06}", self.cluster, self.prefix)
    }

    fn envelope(&mut self, at: Timestamp, detail_type: &str, resources: Vec<String>, detail: Value) -> Value {
        self.next_event += 1;
        json!({
            "version": "0",
            "id": format!("{}-event-{:07}", self.prefix, self.next_event),
            "detail-type": detail_type,
            "source": "aws.ecs",
            "account": ACCOUNT,
            "time": at.to_string(),
            "region": REGION,
            "resources": resources,
            "detail": detail,
        })
    }

    /// A task state change; `version` follows the lifecycle (aws-behaviour §10.2:
    /// higher means later).
    fn task_event(&mut self, at: Timestamp, id: u64, status: &str) {
        let version = match status {
            "PROVISIONING" => 1,
            "PENDING" => 2,
            "RUNNING" => 3,
            _ => 4,
        };
        let desired = if status == "STOPPED" { "STOPPED" } else { "RUNNING" };
        let arn = self.task_arn(id);
        let detail = json!({
            "clusterArn": self.cluster_arn(),
            "taskArn": arn,
            "group": format!("service:{}", self.service),
            "lastStatus": status,
            "desiredStatus": desired,
            "version": version,
            "launchType": "EC2",
            "updatedAt": at.to_string(),
        });
        let event = self.envelope(at, "ECS Task State Change", vec![arn], detail);
        self.pending_events.push(event);
    }

    /// New tasks: waiting for an instance (`provisioning`) or starting now,
    /// RUNNING after `delay()` seconds.
    pub fn create(&mut self, n: u32, t: u32, at: Timestamp, provisioning: bool, delay: &mut dyn FnMut() -> u32) {
        for _ in 0..n {
            let id = self.new_id();
            if provisioning {
                self.task_event(at, id, "PROVISIONING");
                self.provisioning.push_back(id);
            } else {
                self.task_event(at, id, "PENDING");
                self.starting.push_back((t + delay(), id));
            }
        }
        self.starting.make_contiguous().sort_unstable();
    }

    /// The oldest waiting task was placed: PENDING, RUNNING after `delay`.
    pub fn place(&mut self, t: u32, at: Timestamp, delay: u32) -> bool {
        let Some(id) = self.provisioning.pop_front() else { return false };
        self.task_event(at, id, "PENDING");
        self.starting.push_back((t + delay, id));
        self.starting.make_contiguous().sort_unstable();
        true
    }

    /// Tasks whose start time has come become RUNNING; returns how many.
    pub fn start_due(&mut self, t: u32, at: Timestamp) -> u32 {
        let mut started = 0;
        while self.starting.front().is_some_and(|(ready, _)| *ready <= t) {
            if let Some((_, id)) = self.starting.pop_front() {
                self.task_event(at, id, "RUNNING");
                self.running.push_back((id, t));
                started += 1;
            }
        }
        started
    }

    /// Cancels up to `n` waiting tasks (newest first); returns how many.
    pub fn cancel_provisioning(&mut self, n: u32, at: Timestamp) -> u32 {
        let mut done = 0;
        while done < n {
            let Some(id) = self.provisioning.pop_back() else { break };
            self.task_event(at, id, "STOPPED");
            done += 1;
        }
        done
    }

    /// Cancels up to `n` starting tasks (latest to start first).
    pub fn cancel_starting(&mut self, n: u32, at: Timestamp) -> u32 {
        let mut done = 0;
        while done < n {
            let Some((_, id)) = self.starting.pop_back() else { break };
            self.task_event(at, id, "STOPPED");
            done += 1;
        }
        done
    }

    /// Stops up to `n` RUNNING tasks: the newest (scale-in) or the oldest
    /// (a deployment replacing old tasks).
    pub fn stop_running(&mut self, n: u32, oldest: bool, at: Timestamp) -> u32 {
        let mut done = 0;
        while done < n {
            let next = if oldest { self.running.pop_front() } else { self.running.pop_back() };
            let Some((id, _)) = next else { break };
            self.task_event(at, id, "STOPPED");
            done += 1;
        }
        done
    }

    /// `SERVICE_TASK_PLACEMENT_FAILURE` for the service (aws-behaviour §10.5).
    pub fn placement_failure(&mut self, at: Timestamp, reason: &str) {
        let service_arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{}/{}", self.cluster, self.service);
        let detail = json!({
            "eventType": "ERROR",
            "eventName": "SERVICE_TASK_PLACEMENT_FAILURE",
            "clusterArn": self.cluster_arn(),
            "reason": reason,
            "createdAt": at.to_string(),
        });
        let event = self.envelope(at, "ECS Service Action", vec![service_arn], detail);
        self.pending_events.push(event);
    }
}
