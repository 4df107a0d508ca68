//! The capacity function: placement failures, task and container instance
//! state changes and the one-minute tick plan the Auto Scaling group.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    autopilot_lambdas::edge::init_tracing();
    let capacity = autopilot_lambdas::edge::Capacity::from_env(&autopilot_lambdas::edge::process_env()).await?;
    let capacity = &capacity;
    lambda_runtime::run(lambda_runtime::service_fn(move |event| capacity.handle(event))).await
}
