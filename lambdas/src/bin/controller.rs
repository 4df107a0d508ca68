//! The controller function: ECS task, service-action and deployment events,
//! CloudWatch alarm state changes and the one-minute tick.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_lambdas::edge::init_tracing();
    let controller = autopilot_lambdas::edge::Controller::from_env(&autopilot_lambdas::edge::process_env()).await?;
    let controller = &controller;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| controller.handle(event))).await
}
