//! A minimal executor for driving handlers over in-memory ports, whose
//! futures never wait: the replay harness and tests stay free of an async
//! runtime. Futures that do wait on I/O belong to the Lambda edge (tokio).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Runs a future whose ports complete immediately. A future that returns
/// `Pending` would be polled again at once; in-memory ports never do.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // Nothing to wait for: in-memory ports never register a waker.
        std::hint::spin_loop();
    }
}
