//! Maps SDK errors onto the core's [`PortError`]: throttling, 5xx, timeouts
//! and dispatch failures are retryable (after the SDK's own standard retries
//! have been spent), everything else is permanent.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use ecs_autopilot::ports::PortError;

/// Error codes AWS uses for throttling (the SDK's retry classifier's list).
const THROTTLING: [&str; 10] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
];

/// Classifies an SDK error from `operation` (e.g. `ecs:UpdateService`).
pub fn port_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(e) => {
            e.raw().status().is_server_error() || e.err().code().is_some_and(|c| THROTTLING.contains(&c))
        }
        _ => false,
    };
    let message = match &err {
        SdkError::ServiceError(e) => match (e.err().code(), e.err().message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            // A modeled error without metadata displays as "Code: message".
            _ => e.err().to_string(),
        },
        other => aws_smithy_types::error::display::DisplayErrorContext(other).to_string(),
    };
    PortError { operation: operation.to_owned(), message, retryable }
}

/// Converts a jiff instant to the SDK's.
#[must_use]
pub fn to_sdk_time(t: jiff::Timestamp) -> aws_smithy_types::DateTime {
    aws_smithy_types::DateTime::from_secs_and_nanos(t.as_second(), t.subsec_nanosecond().unsigned_abs())
}

/// Converts the SDK's instant to jiff's.
#[must_use]
pub fn from_sdk_time(t: &aws_smithy_types::DateTime) -> Option<jiff::Timestamp> {
    jiff::Timestamp::new(t.secs(), i32::try_from(t.subsec_nanos()).ok()?).ok()
}
