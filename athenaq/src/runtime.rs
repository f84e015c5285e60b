//! The process's async runtime, on threads with a large stack. DataFusion plans, optimizes and
//! evaluates SQL by recursion over the expression tree, so a long expression (a generated
//! `a + b + ... ` of thousands of terms) needs a deep stack, most of all in a debug build; with
//! the default 2 MiB (8 MiB on the main thread) it overflowed and aborted the process. Stack is
//! reserved, not committed: pages are used only as deep as a query goes.

use std::future::Future;

/// Stack of the thread that plans queries and of every runtime worker.
pub const STACK_BYTES: usize = 1 << 30;

/// Runs the future `make` returns to completion on a multi-threaded runtime whose threads have
/// [`STACK_BYTES`] of stack. The future is made on that thread, so it need not be `Send`.
pub fn block_on<T, F, Fut>(make: F) -> anyhow::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let thread = std::thread::Builder::new().name("athenaq-main".into()).stack_size(STACK_BYTES).spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(STACK_BYTES).build()?;
        runtime.block_on(make())
    })?;
    match thread.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
