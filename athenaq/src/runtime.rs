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
        let result = runtime.block_on(make());
        // The command is done: a task still running (a canceled query that has not reached its
        // next yield) is not waited for, as dropping the runtime would. Ctrl-D in the shell
        // exits at once.
        runtime.shutdown_background();
        result
    })?;
    match thread.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn a_task_still_busy_when_the_command_ends_is_not_waited_for() {
        static STOP: AtomicBool = AtomicBool::new(false);
        let started = Instant::now();
        let answer = super::block_on(|| async {
            // Never yields, as a plan stuck in a tight loop does (for 20 s at most).
            tokio::spawn(async {
                let until = Instant::now() + Duration::from_secs(20);
                while !STOP.load(Ordering::Relaxed) && Instant::now() < until {
                    std::hint::spin_loop();
                }
            });
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(42)
        });
        let waited = started.elapsed();
        STOP.store(true, Ordering::Relaxed);
        assert_eq!(answer.unwrap(), 42);
        assert!(waited < Duration::from_secs(5), "waited {waited:?} for the busy task");
    }
}
