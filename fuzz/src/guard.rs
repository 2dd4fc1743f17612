//! Turns a huge allocation, which `catch_unwind` cannot catch, into a clear abort on stable
//! Rust: a global allocator ([`CappedAlloc`]) that refuses any single request above a limit,
//! says which and where, and aborts. The corpus test and `peephole-fuzz replay` install it, so
//! replaying an input that once claimed 103 GB fails fast instead of exhausting the machine.
//! (The libFuzzer harnesses use libFuzzer's own `-malloc_limit_mb` and `-timeout`.)
//! A binary opts in with `#[global_allocator] static A: CappedAlloc = CappedAlloc;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A global allocator that aborts, with the size and a backtrace, when one request exceeds
/// the limit set with [`set_allocation_limit`].
pub struct CappedAlloc;

static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static TRIPPED: AtomicBool = AtomicBool::new(false);

// SAFETY: every method forwards to `System` with the caller's arguments; the check before
// only reads and writes atomics (and, once, prints and aborts, which never returns).
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check_size(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check_size(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check_size(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn check_size(size: usize) {
    if size > LIMIT.load(Ordering::Relaxed) && !TRIPPED.swap(true, Ordering::SeqCst) {
        let mut stderr = std::io::stderr();
        let _ = writeln!(
            stderr,
            "\npeephole-fuzz: FATAL huge allocation ({size} bytes, limit {})",
            LIMIT.load(Ordering::Relaxed)
        );
        // Where the allocation happened is what a fix needs; capturing allocates, which is
        // fine now that the limit has tripped.
        let _ = writeln!(stderr, "{}", std::backtrace::Backtrace::force_capture());
        std::process::abort();
    }
}

/// Largest single allocation a run may make; above it the process aborts (only in binaries
/// that install [`CappedAlloc`]).
pub fn set_allocation_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}
