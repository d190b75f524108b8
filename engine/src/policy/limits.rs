//! Bounds on one policy evaluation, held inside regorus as well as between its steps.
//!
//! regorus checks its execution timer every thousand instructions, which cannot stop a
//! single builtin call (`numbers.range(1, 1e9)` ran 35 s and took 7 GB). vouch's patch to
//! the vendored regorus (vendor/regorus/VOUCH-PATCH.md) caps what one builtin call may
//! produce ([`regorus::MAX_BUILTIN_OUTPUT`]) and calls [`check`] wherever regorus checks
//! memory: before every VM instruction, in the interpreter's loops, and inside builtins
//! that build values element by element. [`check`] reads how much this thread has
//! allocated since the evaluation began (counted by [`CountingAlloc`], the `vouch`
//! binary's global allocator) and the evaluation's deadline.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use regorus::LimitError;

/// What one evaluation may allocate beyond what its thread held when it began.
pub const MAX_EVALUATION_MEMORY: u64 = 128 << 20;

/// How long one evaluation of one rule may run.
pub const MAX_EVALUATION_TIME: Duration = Duration::from_secs(5);

thread_local! {
    /// Bytes allocated minus bytes freed by this thread (wrapping; only differences count).
    static ALLOCATED: Cell<i64> = const { Cell::new(0) };
    static BUDGET: Cell<Option<Budget>> = const { Cell::new(None) };
    static TRIPPED: Cell<Option<LimitError>> = const { Cell::new(None) };
}

/// Whether allocations are being counted (the binary installed [`CountingAlloc`]).
static COUNTING: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy)]
struct Budget {
    base: i64,
    started: Instant,
    ticks: u32,
}

/// A global allocator that counts, per thread, what is allocated and freed, so that an
/// evaluation's memory can be bounded. Install it in the binary:
/// `#[global_allocator] static A: CountingAlloc<mimalloc::MiMalloc> = CountingAlloc(mimalloc::MiMalloc);`
pub struct CountingAlloc<A>(pub A);

#[inline]
fn count(delta: i64) {
    // `try_with`: nothing to count into while the thread is being torn down.
    let _ = ALLOCATED.try_with(|c| c.set(c.get().wrapping_add(delta)));
}

// SAFETY: every call is forwarded to the inner allocator unchanged; counting touches only
// a const-initialized thread-local `Cell` without a destructor, which never allocates.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !COUNTING.load(Ordering::Relaxed) {
            COUNTING.store(true, Ordering::Relaxed);
        }
        count(layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { self.0.alloc(layout) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: same contract as ours.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// Whether memory is bounded in this process (false in programs that do not install
/// [`CountingAlloc`], such as some tests; time is bounded regardless).
pub fn memory_bounded() -> bool {
    COUNTING.load(Ordering::Relaxed)
}

/// regorus calls this wherever it checks its limits (installed by [`Scope::enter`]).
fn check() -> Result<(), LimitError> {
    BUDGET.with(|b| {
        let Some(mut budget) = b.get() else {
            return Ok(());
        };
        let used = ALLOCATED.with(Cell::get).wrapping_sub(budget.base);
        let result = if used > MAX_EVALUATION_MEMORY as i64 {
            Err(LimitError::MemoryLimitExceeded { usage: used as u64, limit: MAX_EVALUATION_MEMORY })
        } else {
            budget.ticks = budget.ticks.wrapping_add(1);
            b.set(Some(budget));
            // The clock only every 1024 checks: a check is on every VM instruction.
            let elapsed = if budget.ticks % 1024 == 0 { budget.started.elapsed() } else { Duration::ZERO };
            if elapsed > MAX_EVALUATION_TIME {
                Err(LimitError::TimeLimitExceeded { elapsed, limit: MAX_EVALUATION_TIME })
            } else {
                Ok(())
            }
        };
        if let Err(e) = result {
            TRIPPED.with(|t| t.set(Some(e)));
        }
        result
    })
}

/// One evaluation on this thread: its memory and time are bounded until the scope ends.
/// A scope entered inside another shares the outer one's budget.
pub(crate) struct Scope {
    outer: Option<Budget>,
}

impl Scope {
    pub(crate) fn enter() -> Scope {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| regorus::set_host_limit_check(check));
        let outer = BUDGET.with(Cell::get);
        if outer.is_none() {
            BUDGET.with(|b| b.set(Some(Budget { base: ALLOCATED.with(Cell::get), started: Instant::now(), ticks: 0 })));
            TRIPPED.with(|t| t.set(None));
        }
        Scope { outer }
    }
}

/// The limit the current evaluation ran into, if any: the subject fails with it, and no
/// other evaluator is asked to try again.
pub(crate) fn tripped() -> Option<String> {
    TRIPPED.with(Cell::get).map(|e| match e {
        LimitError::MemoryLimitExceeded { usage, limit } => {
            format!("the evaluation allocated {} MiB, over the limit of {} MiB (docs/limits.md)", usage >> 20, limit >> 20)
        }
        LimitError::TimeLimitExceeded { elapsed, limit } => {
            format!("the evaluation ran {:.1} s, over the limit of {} s (docs/limits.md)", elapsed.as_secs_f64(), limit.as_secs())
        }
        other => other.to_string(),
    })
}

impl Drop for Scope {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set(self.outer));
    }
}
