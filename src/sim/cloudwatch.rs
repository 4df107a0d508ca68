//! The simulated CloudWatch: the metrics ECS publishes for the simulated
//! service, stored at the stream's resolution and readable only after the
//! stream's publication delay, answered through the same
//! [`MetricsPort`](crate::ports::MetricsPort) queries the Lambda adapter sends
//! to `GetMetricData` (docs/simulation.md, "Simulated CloudWatch").
//!
//! Owns: the stored datapoints and the statistics of a query. May not touch:
//! the service model (the world feeds it one sample a second), the clock.

use crate::config::aws::Dimension;
use crate::config::MetricQuery;
use crate::memory::Datapoint;
use jiff::Timestamp;

/// One stored period of a metric.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Period {
    /// Start of the period (CloudWatch's timestamp).
    start: i64,
    /// Second at which the datapoint becomes readable.
    visible_at: i64,
    sum: f64,
    /// Per-second samples aggregated into the period.
    seconds: u32,
    /// Average number of tasks reporting (the `SampleCount`).
    tasks: f64,
    maximum: f64,
    minimum: f64,
}

/// How a stream's samples count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Samples {
    /// Each running task reports once per period (ECS service metrics):
    /// `SampleCount` is the reporting tasks, `Sum` their values added up.
    PerTask,
    /// One sample a second (load balancer and custom metrics): `SampleCount`
    /// is the seconds, `Sum` the samples added up.
    PerSecond,
}

/// One metric's stream: accumulates per-second samples into periods.
#[derive(Clone, Debug)]
struct Stream {
    period: u32,
    delay: u32,
    samples: Samples,
    stored: Vec<Period>,
    open: Option<Period>,
}

impl Stream {
    fn new(period: u32, delay: u32, samples: Samples) -> Self {
        Self { period: period.max(1), delay, samples, stored: Vec::new(), open: None }
    }

    fn record(&mut self, second: i64, value: f64, tasks: u32) {
        let period = i64::from(self.period);
        let start = second.div_euclid(period) * period;
        if self.open.is_some_and(|p| p.start != start) {
            self.close();
        }
        let p = self.open.get_or_insert(Period {
            start,
            visible_at: start + period + i64::from(self.delay),
            sum: 0.0,
            seconds: 0,
            tasks: 0.0,
            maximum: f64::NEG_INFINITY,
            minimum: f64::INFINITY,
        });
        p.sum += value;
        p.seconds += 1;
        p.tasks += f64::from(tasks);
        p.maximum = p.maximum.max(value);
        p.minimum = p.minimum.min(value);
    }

    /// Ends the open period (no more samples in it).
    fn close(&mut self) {
        if let Some(p) = self.open.take() {
            self.stored.push(p);
        }
    }
}

/// Which metric a stream is.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `AWS/ECS` `CPUUtilization` of the service.
    Cpu,
    /// `AWS/ECS` `MemoryUtilization` of the service.
    Memory,
    /// `AWS/ApplicationELB` `RequestCountPerTarget` of the service's target
    /// group (requests per serving task).
    RequestsPerTarget,
    /// A custom metric: namespace, name and sorted dimensions.
    Custom { namespace: String, metric_name: String, dimensions: Vec<Dimension> },
}

/// The service's metrics, as CloudWatch stores them.
#[derive(Clone, Debug)]
pub struct SimCloudWatch {
    cluster: String,
    service: String,
    streams: Vec<(Source, Stream)>,
    /// Sources nobody publishes in this run, with the reason (a query for
    /// one is an error, not a silent absence).
    unmodelled: Vec<(Source, String)>,
}

/// A query the simulated CloudWatch cannot answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unanswerable(pub String);

impl SimCloudWatch {
    /// The metrics of `service/<cluster>/<service>`, published every
    /// `period` seconds, readable `delay` seconds after the period ends: CPU
    /// and load-balancer requests always; memory and custom metrics when the
    /// caller adds them ([`SimCloudWatch::publish`]).
    #[must_use]
    pub fn new(cluster: &str, service: &str, period: u32, delay: u32) -> Self {
        Self {
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            streams: vec![
                (Source::Cpu, Stream::new(period, delay, Samples::PerTask)),
                (Source::RequestsPerTarget, Stream::new(period, delay, Samples::PerSecond)),
            ],
            unmodelled: vec![(
                Source::Memory,
                "the scenario has no service.memory model (idle_percent, busy_percent)".to_owned(),
            )],
        }
    }

    /// Publishes `source` too, at the same period and delay.
    pub fn publish(&mut self, source: Source) {
        let (period, delay) = (self.streams[0].1.period, self.streams[0].1.delay);
        let samples = if matches!(source, Source::Memory) { Samples::PerTask } else { Samples::PerSecond };
        self.unmodelled.retain(|(s, _)| *s != source);
        self.streams.push((source, Stream::new(period, delay, samples)));
    }

    /// Records one second of `source` from `tasks` reporting tasks (ignored
    /// for per-second metrics). ECS publishes nothing while no task runs.
    pub fn record(&mut self, source: &Source, second: i64, value: f64, tasks: u32) {
        if let Some((_, stream)) = self.streams.iter_mut().find(|(s, _)| s == source) {
            if stream.samples == Samples::PerTask && tasks == 0 {
                return;
            }
            stream.record(second, value, tasks.max(1));
        }
    }

    /// Closes the periods that ended by `second` (exclusive).
    pub fn close_ended(&mut self, second: i64) {
        for (_, s) in &mut self.streams {
            if s.open.is_some_and(|p| p.start + i64::from(s.period) <= second) {
                s.close();
            }
        }
    }

    /// The newest readable CPU datapoint (Average) at `now`, for charts.
    #[must_use]
    pub fn newest_cpu(&self, now: i64) -> Option<f64> {
        let (_, cpu) = self.streams.iter().find(|(s, _)| *s == Source::Cpu)?;
        cpu.stored.iter().rev().find(|p| p.visible_at <= now).map(|p| p.sum / f64::from(p.seconds.max(1)))
    }

    /// The source a query reads, if this service publishes it.
    fn source_of(&self, namespace: &str, metric_name: &str, dimensions: &[Dimension]) -> Source {
        let has = |name: &str, value: &str| dimensions.iter().any(|d| d.name == name && d.value == value);
        match (namespace, metric_name) {
            ("AWS/ECS", "CPUUtilization" | "MemoryUtilization")
                if dimensions.len() == 2 && has("ClusterName", &self.cluster) && has("ServiceName", &self.service) =>
            {
                if metric_name == "CPUUtilization" {
                    Source::Cpu
                } else {
                    Source::Memory
                }
            }
            // The service sits behind one target group, whatever its name.
            ("AWS/ApplicationELB", "RequestCountPerTarget")
                if dimensions.len() == 1 && dimensions[0].name == "TargetGroup" =>
            {
                Source::RequestsPerTarget
            }
            _ => {
                let mut sorted = dimensions.to_vec();
                sorted.sort();
                Source::Custom {
                    namespace: namespace.to_owned(),
                    metric_name: metric_name.to_owned(),
                    dimensions: sorted,
                }
            }
        }
    }

    /// Answers one query as `GetMetricData` would at `now`: the readable
    /// datapoints with timestamps in `[from, to)`. A query period finer than
    /// the stream's returns the stream's periods (a standard-resolution
    /// metric has nothing finer); a coarser one that is a multiple of it
    /// aggregates whole stream periods.
    ///
    /// # Errors
    /// [`Unanswerable`] for metric math, a metric the scenario does not
    /// model, a period that is not a multiple of the stream's, or a
    /// statistic CloudWatch does not have.
    pub fn answer(
        &self,
        query: &MetricQuery,
        now: i64,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Datapoint>, Unanswerable> {
        let MetricQuery::Single { namespace, metric_name, dimensions, statistic, period_seconds } = query else {
            return Err(Unanswerable(
                "metric math is not modelled by the simulated CloudWatch (docs/simulation.md)".into(),
            ));
        };
        let source = self.source_of(namespace, metric_name, dimensions);
        if let Some((_, why)) = self.unmodelled.iter().find(|(s, _)| *s == source) {
            return Err(Unanswerable(format!("{namespace} {metric_name}: {why}")));
        }
        let Some((_, stream)) = self.streams.iter().find(|(s, _)| *s == source) else {
            // CloudWatch would answer an empty series; a backtest that
            // silently had no data for a policy would mislead, so it says so.
            let dims: Vec<String> = dimensions.iter().map(|d| format!("{}={}", d.name, d.value)).collect();
            return Err(Unanswerable(format!(
                "{namespace} {metric_name} {{{}}} is not published in this scenario: add it under custom_metrics",
                dims.join(",")
            )));
        };
        let base = stream.period;
        let period = (*period_seconds).max(base);
        if period % base != 0 {
            return Err(Unanswerable(format!(
                "period {period_seconds} s is not a multiple of the {base}-s stream of {metric_name}"
            )));
        }
        let statistic = Statistic::parse(statistic)?;
        let period = i64::from(period);
        let mut out: Vec<Datapoint> = Vec::new();
        let mut group: Option<(i64, Vec<&Period>)> = None;
        let flush = |group: &mut Option<(i64, Vec<&Period>)>, out: &mut Vec<Datapoint>| {
            if let Some((start, members)) = group.take() {
                if let Some(value) = statistic.of(&members, stream.samples) {
                    if let Ok(timestamp) = Timestamp::from_second(start) {
                        out.push(Datapoint { timestamp, value });
                    }
                }
            }
        };
        for p in stream.stored.iter().filter(|p| p.visible_at <= now) {
            let start = p.start.div_euclid(period) * period;
            if start < from.as_second() || start >= to.as_second() {
                continue;
            }
            if group.as_ref().is_some_and(|(s, _)| *s != start) {
                flush(&mut group, &mut out);
            }
            group.get_or_insert_with(|| (start, Vec::new())).1.push(p);
        }
        flush(&mut group, &mut out);
        Ok(out)
    }
}

/// The statistics the simulated CloudWatch computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Statistic {
    Average,
    Sum,
    Maximum,
    Minimum,
    SampleCount,
}

impl Statistic {
    fn parse(text: &str) -> Result<Self, Unanswerable> {
        Ok(match text {
            "Average" => Self::Average,
            "Sum" => Self::Sum,
            "Maximum" => Self::Maximum,
            "Minimum" => Self::Minimum,
            "SampleCount" => Self::SampleCount,
            other => {
                return Err(Unanswerable(format!(
                    "statistic {other:?} is not modelled (Average, Sum, Maximum, Minimum, SampleCount)"
                )))
            }
        })
    }

    /// The statistic over whole stream periods (docs/simulation.md): for
    /// ECS metrics each task reports once per stream period, so
    /// `SampleCount` is the reporting tasks and `Sum` the tasks' values
    /// added up; for per-second metrics each second is a sample.
    fn of(self, periods: &[&Period], samples: Samples) -> Option<f64> {
        let seconds: u32 = periods.iter().map(|p| p.seconds).sum();
        if seconds == 0 {
            return None;
        }
        if samples == Samples::PerSecond {
            let sum: f64 = periods.iter().map(|p| p.sum).sum();
            return Some(match self {
                Self::Average => sum / f64::from(seconds),
                Self::Maximum => periods.iter().map(|p| p.maximum).fold(f64::NEG_INFINITY, f64::max),
                Self::Minimum => periods.iter().map(|p| p.minimum).fold(f64::INFINITY, f64::min),
                Self::SampleCount => f64::from(seconds),
                Self::Sum => sum,
            });
        }
        let mean = |f: fn(&Period) -> f64| periods.iter().map(|p| f(p)).sum::<f64>() / f64::from(seconds);
        let tasks_per_period =
            periods.iter().map(|p| p.tasks / f64::from(p.seconds.max(1))).sum::<f64>() / periods.len() as f64;
        Some(match self {
            Self::Average => mean(|p| p.sum),
            Self::Maximum => periods.iter().map(|p| p.maximum).fold(f64::NEG_INFINITY, f64::max),
            Self::Minimum => periods.iter().map(|p| p.minimum).fold(f64::INFINITY, f64::min),
            Self::SampleCount => (tasks_per_period * periods.len() as f64).round(),
            Self::Sum => mean(|p| p.sum) * (tasks_per_period * periods.len() as f64).round(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::aws::Dimension;

    fn query(statistic: &str, period: u32) -> MetricQuery {
        MetricQuery::Single {
            namespace: "AWS/ECS".into(),
            metric_name: "CPUUtilization".into(),
            dimensions: vec![
                Dimension { name: "ClusterName".into(), value: "sim".into() },
                Dimension { name: "ServiceName".into(), value: "web".into() },
            ],
            statistic: statistic.into(),
            period_seconds: period,
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn datapoints_are_readable_only_after_the_delay_and_aggregate_whole_periods() {
        let mut cw = SimCloudWatch::new("sim", "web", 20, 20);
        for s in 0..60 {
            cw.record(&Source::Cpu, s, if s < 20 { 30.0 } else { 60.0 }, 4);
            cw.record(&Source::RequestsPerTarget, s, 2.0, 4);
        }
        cw.close_ended(60);
        let all = |stat, period, now| cw.answer(&query(stat, period), now, at(0), at(600)).unwrap();
        // [0, 20) is readable at 40, [20, 40) at 60, [40, 60) at 80.
        assert_eq!(all("Average", 20, 39), vec![]);
        assert_eq!(all("Average", 20, 40), vec![Datapoint { timestamp: at(0), value: 30.0 }]);
        assert_eq!(all("Average", 20, 80).len(), 3);
        assert_eq!(all("SampleCount", 20, 80)[0].value, 4.0);
        // A 60-s query of a 20-s stream: one datapoint over three periods.
        assert_eq!(all("Average", 60, 80), vec![Datapoint { timestamp: at(0), value: 50.0 }]);
        assert_eq!(all("Maximum", 60, 80)[0].value, 60.0);
        // A 10-s query of a 20-s stream answers at the stream's resolution.
        assert_eq!(all("Average", 10, 80).len(), 3);
        assert!(cw.answer(&query("p99", 20), 80, at(0), at(600)).is_err());
        // Requests per target: a per-second counter, summed per period.
        let alb = MetricQuery::Single {
            namespace: "AWS/ApplicationELB".into(),
            metric_name: "RequestCountPerTarget".into(),
            dimensions: vec![Dimension { name: "TargetGroup".into(), value: "targetgroup/web/1".into() }],
            statistic: "Sum".into(),
            period_seconds: 60,
        };
        assert_eq!(cw.answer(&alb, 80, at(0), at(600)).unwrap()[0].value, 120.0);
        // Memory is not modelled unless the scenario says how: an error.
        let mut memory = query("Average", 60);
        if let MetricQuery::Single { metric_name, .. } = &mut memory {
            *metric_name = "MemoryUtilization".into();
        }
        assert!(cw.answer(&memory, 80, at(0), at(600)).unwrap_err().0.contains("service.memory"));
    }

    #[test]
    fn idle_services_have_no_datapoints_and_unpublished_metrics_are_named() {
        let mut cw = SimCloudWatch::new("sim", "web", 60, 0);
        cw.record(&Source::Cpu, 0, 50.0, 0);
        cw.close_ended(120);
        assert!(cw.answer(&query("Average", 60), 1000, at(0), at(600)).unwrap().is_empty());
        let mut other = query("Average", 60);
        if let MetricQuery::Single { dimensions, .. } = &mut other {
            dimensions[1].value = "api".into();
        }
        let err = cw.answer(&other, 1000, at(0), at(600)).unwrap_err();
        assert!(err.0.contains("custom_metrics"), "{err}");
    }

    #[test]
    fn custom_metrics_are_answered_once_published() {
        let mut cw = SimCloudWatch::new("sim", "web", 60, 0);
        let dims = vec![Dimension { name: "QueueName".into(), value: "jobs".into() }];
        let source =
            Source::Custom { namespace: "AWS/SQS".into(), metric_name: "Backlog".into(), dimensions: dims.clone() };
        cw.publish(source.clone());
        for s in 0..60 {
            cw.record(&source, s, f64::from(s as u32), 1);
        }
        cw.close_ended(60);
        let q = MetricQuery::Single {
            namespace: "AWS/SQS".into(),
            metric_name: "Backlog".into(),
            dimensions: dims,
            statistic: "Maximum".into(),
            period_seconds: 60,
        };
        assert_eq!(cw.answer(&q, 60, at(0), at(600)).unwrap()[0].value, 59.0);
    }
}
