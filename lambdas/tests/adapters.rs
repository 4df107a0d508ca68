//! Adapter tests without a network (aws-smithy-mocks): outputs, pagination,
//! throttling and 5xx sequences through the SDK's standard retry, and the
//! mapping of what is left onto retryable / permanent port errors. The
//! SDK's backoff sleeps in virtual time (InstantSleep).

use autopilot_lambdas::cloudwatch::CloudWatchMetrics;
use autopilot_lambdas::dynamodb::DynamoState;
use autopilot_lambdas::ecs::EcsServices;
use autopilot_lambdas::eventbridge::EventBridgeDecisions;
use aws_smithy_async::rt::sleep::SharedAsyncSleep;
use aws_smithy_async::test_util::instant_time_and_sleep;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use ecs_autopilot::config::{MetricId, MetricQuery};
use ecs_autopilot::ports::{DecisionPort, MetricsPort, SaveOutcome, ServicePort, StatePort};
use jiff::Timestamp;
use std::time::{Duration, UNIX_EPOCH};

fn sleep() -> SharedAsyncSleep {
    let (_time, sleep) = instant_time_and_sleep(UNIX_EPOCH);
    SharedAsyncSleep::new(sleep)
}

fn retry3() -> aws_smithy_types::retry::RetryConfig {
    aws_smithy_types::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10))
}

fn now() -> Timestamp {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

mod ecs {
    use super::*;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service};
    use aws_sdk_ecs::Client;

    #[tokio::test]
    async fn describe_reads_counts_and_a_deployment_in_progress() {
        let rule = mock!(Client::describe_services)
            .match_requests(|r| r.cluster() == Some("prod") && r.services() == ["api".to_owned()])
            .then_output(|| {
                DescribeServicesOutput::builder()
                    .services(
                        Service::builder()
                            .service_name("api")
                            .desired_count(6)
                            .running_count(5)
                            .pending_count(1)
                            .deployments(
                                Deployment::builder()
                                    .status("PRIMARY")
                                    .running_count(2)
                                    .rollout_state(DeploymentRolloutState::InProgress)
                                    .build(),
                            )
                            .deployments(Deployment::builder().status("ACTIVE").running_count(3).build())
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_ecs, [&rule]);
        let s = EcsServices::new(client).describe("service/prod/api").await.unwrap();
        assert_eq!((s.desired, s.running, s.pending, s.primary_running), (6, 5, 1, Some(2)));
        assert!(s.deployment_in_progress);
    }

    #[tokio::test]
    async fn a_missing_service_is_a_permanent_error_naming_it() {
        let rule = mock!(Client::describe_services).then_output(|| {
            DescribeServicesOutput::builder()
                .failures(
                    aws_sdk_ecs::types::Failure::builder()
                        .arn("arn:aws:ecs:eu-west-1:123456789012:service/prod/gone")
                        .reason("MISSING")
                        .build(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_ecs, [&rule]);
        let err = EcsServices::new(client).describe("service/prod/gone").await.unwrap_err();
        assert!(!err.retryable);
        assert_eq!(err.to_string(), "ecs:DescribeServices failed: service/prod/gone: MISSING");
    }

    #[tokio::test]
    async fn update_service_is_retried_through_throttling_by_the_sdk() {
        let rule = mock!(Client::update_service)
            .match_requests(|r| r.desired_count() == Some(9) && r.service() == Some("api"))
            .sequence()
            .http_status(400, Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()))
            .http_status(503, None)
            .output(|| UpdateServiceOutput::builder().build())
            .build();
        let client =
            mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&rule], |c| c.retry_config(retry3()).sleep_impl(sleep()));
        EcsServices::new(client).set_desired_count("service/prod/api", 9).await.unwrap();
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn throttling_left_after_the_sdk_retries_is_retryable() {
        let rule = mock!(Client::update_service)
            .sequence()
            .http_status(400, Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()))
            .times(3)
            .build();
        let client =
            mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&rule], |c| c.retry_config(retry3()).sleep_impl(sleep()));
        let err = EcsServices::new(client).set_desired_count("service/prod/api", 9).await.unwrap_err();
        assert!(err.retryable, "{err}");
        assert_eq!(err.message, "ThrottlingException: Rate exceeded");
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn persistent_5xx_ends_in_a_retryable_port_error() {
        let rule = mock!(Client::update_service).sequence().http_status(500, None).times(3).build();
        let client =
            mock_client!(aws_sdk_ecs, RuleMode::Sequential, [&rule], |c| c.retry_config(retry3()).sleep_impl(sleep()));
        let err = EcsServices::new(client).set_desired_count("service/prod/api", 9).await.unwrap_err();
        assert!(err.retryable, "{err}");
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn a_client_error_is_permanent() {
        let rule = mock!(Client::update_service).then_error(|| {
            aws_sdk_ecs::operation::update_service::UpdateServiceError::ServiceNotFoundException(
                aws_sdk_ecs::types::error::ServiceNotFoundException::builder().message("Service not found.").build(),
            )
        });
        let client = mock_client!(aws_sdk_ecs, [&rule]);
        let err = EcsServices::new(client).set_desired_count("service/prod/api", 9).await.unwrap_err();
        assert!(!err.retryable);
        assert_eq!(err.message, "ServiceNotFoundException: Service not found.");
    }

    #[tokio::test]
    async fn a_malformed_resource_id_is_rejected_before_any_call() {
        let rule = mock!(Client::update_service).then_output(|| UpdateServiceOutput::builder().build());
        let client = mock_client!(aws_sdk_ecs, [&rule]);
        let err = EcsServices::new(client).set_desired_count("prod/api", 1).await.unwrap_err();
        assert!(err.message.contains("is not service/<cluster>/<service>"), "{err}");
        assert_eq!(rule.num_calls(), 0);
    }
}

mod task_protection {
    use super::*;
    use autopilot_lambdas::capacity::AwsCapacity;
    use aws_sdk_ecs::operation::get_task_protection::GetTaskProtectionOutput;
    use aws_sdk_ecs::primitives::DateTime;
    use aws_sdk_ecs::types::ProtectedTask;

    /// docs/capacity.md "Task scale-in protection": ten tasks per call,
    /// read into the snapshot's `protectedTasks`.
    #[tokio::test]
    async fn protection_is_read_ten_tasks_per_call() {
        let tasks: Vec<String> = (0..12).map(|k| format!("arn:aws:ecs:us-east-1:1:task/prod/t{k}")).collect();
        let rule = mock!(aws_sdk_ecs::Client::get_task_protection)
            .match_requests(|r| r.cluster() == Some("prod") && r.tasks().len() <= 10)
            .then_output(|| {
                GetTaskProtectionOutput::builder()
                    .protected_tasks(
                        ProtectedTask::builder()
                            .task_arn("arn:aws:ecs:us-east-1:1:task/prod/t0")
                            .protection_enabled(true)
                            .expiration_date(DateTime::from_secs(1_800_000_000))
                            .build(),
                    )
                    .build()
            });
        let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, [&rule]);
        let autoscaling = mock_client!(aws_sdk_autoscaling, []);
        let capacity = AwsCapacity::new(ecs, autoscaling, "prod", serde_json::json!({}));
        let out = capacity.task_protection(&tasks).await.unwrap();
        assert_eq!(rule.num_calls(), 2, "12 tasks: two calls of at most ten");
        assert_eq!(out[0]["taskArn"], "arn:aws:ecs:us-east-1:1:task/prod/t0");
        assert_eq!(
            (out[0]["protectionEnabled"].as_bool(), out[0]["expirationDate"].as_i64()),
            (Some(true), Some(1_800_000_000))
        );
        assert!(capacity.task_protection(&[]).await.unwrap().is_empty());
        assert_eq!(rule.num_calls(), 2, "no task: no call");
    }
}

mod cloudwatch {
    use super::*;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use aws_sdk_cloudwatch::Client;

    fn cpu() -> (MetricId, MetricQuery) {
        let cfg = ecs_autopilot::config::load_str(
            "ScalableTargets: [{ResourceId: service/prod/api, MinCapacity: 1, MaxCapacity: 9}]\nScalingPolicies:\n  - {PolicyName: cpu, ResourceId: service/prod/api, PolicyType: TargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: {TargetValue: 50, PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilization}}}",
        )
        .unwrap();
        cfg.targets["service/prod/api"].queries.clone().into_iter().next().unwrap()
    }

    #[tokio::test]
    async fn fetch_follows_every_page_and_sorts_datapoints() {
        let first = mock!(Client::get_metric_data)
            .match_requests(|r| {
                let q = &r.metric_data_queries()[0];
                let stat = q.metric_stat().unwrap();
                let metric = stat.metric().unwrap();
                r.next_token().is_none()
                    && q.id() == Some("m0")
                    && metric.namespace() == Some("AWS/ECS")
                    && metric.metric_name() == Some("CPUUtilization")
                    && metric.dimensions().len() == 2
                    && stat.stat() == Some("Average")
                    && stat.period() == Some(60)
            })
            .then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("m0")
                            .timestamps(DateTime::from_secs(1_772_445_540))
                            .values(80.0)
                            .build(),
                    )
                    .next_token("page2")
                    .build()
            });
        let second =
            mock!(Client::get_metric_data).match_requests(|r| r.next_token() == Some("page2")).then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("m0")
                            .timestamps(DateTime::from_secs(1_772_445_480))
                            .values(70.0)
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&first, &second]);
        let (id, query) = cpu();
        let from = now().checked_sub(jiff::SignedDuration::from_mins(20)).unwrap();
        let out = CloudWatchMetrics::new(client).fetch(&[(id.clone(), query)], from, now()).await.unwrap();
        let values: Vec<f64> = out[&id].iter().map(|p| p.value).collect();
        assert_eq!(values, [70.0, 80.0], "both pages, oldest first");
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    /// id, metric name, statistic, period, dimensions of one sent query.
    type SentQuery<'a> =
        (Option<&'a str>, Option<&'a str>, Option<&'a str>, Option<i32>, Vec<(Option<&'a str>, Option<&'a str>)>);

    /// The exact `GetMetricData` request of a `fast` high-resolution CPU
    /// policy: the Average and its SampleCount in one call (docs/lambdas.md).
    #[tokio::test]
    async fn fast_mode_sends_the_average_and_its_sample_count_in_one_call() {
        let cfg = ecs_autopilot::config::load_str(
            "ScalableTargets: [{ResourceId: service/prod/api, MinCapacity: 1, MaxCapacity: 9}]\nScalingPolicies:\n  - {PolicyName: cpu, ResourceId: service/prod/api, PolicyType: TargetTrackingScaling, TargetTrackingScalingPolicyConfiguration: {TargetValue: 50, PredefinedMetricSpecification: {PredefinedMetricType: ECSServiceAverageCPUUtilizationHighResolution}}}\nAutopilot: {Defaults: {EvaluationMode: fast}}",
        )
        .unwrap();
        let queries = ecs_autopilot::handler::fetch_queries(&cfg.targets["service/prod/api"]);
        let rule = mock!(Client::get_metric_data)
            .match_requests(|r| {
                let sent: Vec<SentQuery<'_>> = r
                    .metric_data_queries()
                    .iter()
                    .map(|q| {
                        let stat = q.metric_stat().unwrap();
                        let metric = stat.metric().unwrap();
                        let dims = metric.dimensions().iter().map(|d| (d.name(), d.value())).collect();
                        (q.id(), metric.metric_name(), stat.stat(), stat.period(), dims)
                    })
                    .collect();
                let dims = vec![(Some("ClusterName"), Some("prod")), (Some("ServiceName"), Some("api"))];
                sent == vec![
                    (Some("m0"), Some("CPUUtilization"), Some("Average"), Some(20), dims.clone()),
                    (Some("m1"), Some("CPUUtilization"), Some("SampleCount"), Some(20), dims),
                ]
            })
            .then_output(|| {
                GetMetricDataOutput::builder()
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("m0")
                            .timestamps(DateTime::from_secs(1_772_445_540))
                            .values(80.0)
                            .build(),
                    )
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("m1")
                            .timestamps(DateTime::from_secs(1_772_445_540))
                            .values(6.0)
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let from = now().checked_sub(jiff::SignedDuration::from_mins(20)).unwrap();
        let out = CloudWatchMetrics::new(client).fetch(&queries, from, now()).await.unwrap();
        assert_eq!(rule.num_calls(), 1, "one call carries both");
        let counts = &out[&queries[1].0];
        assert_eq!(counts[0].value, 6.0, "the SampleCount comes back under its own id");
    }

    #[tokio::test]
    async fn server_errors_are_retried_then_reported_retryable() {
        let rule = mock!(Client::get_metric_data).sequence().http_status(503, None).times(3).build();
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::Sequential, [&rule], |c| c
            .retry_config(retry3())
            .sleep_impl(sleep()));
        let err = CloudWatchMetrics::new(client).fetch(&[cpu()], now(), now()).await.unwrap_err();
        assert_eq!(rule.num_calls(), 3);
        assert!(err.retryable, "{err}");
        assert_eq!(err.operation, "cloudwatch:GetMetricData");
    }
}

mod dynamodb {
    use super::*;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_sdk_dynamodb::types::AttributeValue;
    use aws_sdk_dynamodb::Client;

    #[tokio::test]
    async fn load_reads_body_and_version_consistently() {
        let rule = mock!(Client::get_item)
            .match_requests(|r| r.consistent_read() == Some(true) && r.table_name() == Some("state"))
            .then_output(|| {
                GetItemOutput::builder()
                    .item("pk", AttributeValue::S("target#service/c/web".into()))
                    .item("body", AttributeValue::S("{}".into()))
                    .item("version", AttributeValue::N("7".into()))
                    .build()
            });
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        let stored = DynamoState::new(client, "state").load("target#service/c/web").await.unwrap().unwrap();
        assert_eq!((stored.body.as_str(), stored.version), ("{}", 7));
    }

    #[tokio::test]
    async fn save_is_conditional_on_the_version_and_a_failed_condition_is_a_conflict() {
        let first = mock!(Client::put_item)
            .match_requests(|r| r.condition_expression() == Some("attribute_not_exists(pk)"))
            .then_output(|| PutItemOutput::builder().build());
        let second = mock!(Client::put_item)
            .match_requests(|r| {
                r.condition_expression() == Some("#v = :v")
                    && r.expression_attribute_values().and_then(|v| v.get(":v")) == Some(&AttributeValue::N("1".into()))
                    && r.item().and_then(|i| i.get("version")) == Some(&AttributeValue::N("2".into()))
                    && r.item().and_then(|i| i.get("expires_at")).is_some()
            })
            .then_error(|| {
                PutItemError::ConditionalCheckFailedException(ConditionalCheckFailedException::builder().build())
            });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&first, &second]);
        let state = DynamoState::new(client, "state");
        assert_eq!(state.save("k", "{}", None, now()).await.unwrap(), SaveOutcome::Saved { version: 1 });
        assert_eq!(state.save("k", "{}", Some(1), now()).await.unwrap(), SaveOutcome::Conflict);
    }
}

mod eventbridge {
    use super::*;
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_sdk_eventbridge::Client;

    #[tokio::test]
    async fn publishes_one_entry_and_reports_a_rejected_entry() {
        let ok = mock!(Client::put_events)
            .match_requests(|r| {
                let e = &r.entries()[0];
                e.source() == Some("ecs-autopilot")
                    && e.detail_type() == Some("ECS Autopilot Decision")
                    && e.event_bus_name() == Some("bus")
                    && e.detail() == Some(r#"{"desired":8}"#)
            })
            .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
        let rejected = mock!(Client::put_events)
            .sequence()
            .output(|| {
                PutEventsOutput::builder()
                    .failed_entry_count(1)
                    .entries(
                        PutEventsResultEntry::builder()
                            .error_code("InternalFailure")
                            .error_message("try again")
                            .build(),
                    )
                    .build()
            })
            .times(4)
            .build();
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&ok, &rejected]);
        let bus = EventBridgeDecisions::new(client, "bus");
        let record = serde_json::json!({"desired": 8});
        bus.publish("ECS Autopilot Decision", &record).await.unwrap();
        let err = bus.publish("ECS Autopilot Decision", &record).await.unwrap_err();
        assert!(err.retryable);
        assert_eq!(err.message, "1 entries rejected: InternalFailure: try again");
        assert_eq!(rejected.num_calls(), 4, "a rejected entry is asked for again before the batch fails");
    }

    #[tokio::test]
    async fn a_batch_sends_ten_entries_per_call_and_resends_only_the_rejected_ones() {
        // 12 records: one call of 10 whose third entry is throttled, the
        // resend of that one entry, then a call with the last 2.
        let first = mock!(Client::put_events).match_requests(|r| r.entries().len() == 10).then_output(|| {
            let mut out = PutEventsOutput::builder().failed_entry_count(1);
            for i in 0..10 {
                let entry = if i == 2 {
                    PutEventsResultEntry::builder().error_code("ThrottlingException").build()
                } else {
                    PutEventsResultEntry::builder().event_id(format!("e{i}")).build()
                };
                out = out.entries(entry);
            }
            out.build()
        });
        let resend = mock!(Client::put_events)
            .match_requests(|r| r.entries().len() == 1 && r.entries()[0].detail() == Some(r#"{"n":2}"#))
            .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
        let rest = mock!(Client::put_events)
            .match_requests(|r| r.entries().len() == 2)
            .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::Sequential, [&first, &resend, &rest]);
        let records: Vec<_> = (0..12).map(|n| serde_json::json!({ "n": n })).collect();
        EventBridgeDecisions::new(client, "bus").publish_batch("ECS Autopilot Decision", &records).await.unwrap();
        assert_eq!((first.num_calls(), resend.num_calls(), rest.num_calls()), (1, 1, 1));
    }
}
