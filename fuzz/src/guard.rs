//! Turns the failures `catch_unwind` cannot catch (a huge allocation, a hang) into saved
//! findings: the input being run is written to disk before the process aborts.
//!
//! libFuzzer does the same with `-malloc_limit_mb` and `-timeout`. Here a global allocator
//! ([`CappedAlloc`]) and a watchdog thread play those parts, so the driver runs on stable Rust.
//! A binary opts in with `#[global_allocator] static A: CappedAlloc = CappedAlloc;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A global allocator that records the largest single request and aborts, after saving the
/// current input, when one exceeds the limit set with [`set_allocation_limit`].
pub struct CappedAlloc;

static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static TRIPPED: AtomicBool = AtomicBool::new(false);

// SAFETY: every method forwards to `System` with the caller's arguments; the checks before
// only read and write atomics (and, once, save a file and abort, which never returns).
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
    LARGEST.fetch_max(size, Ordering::Relaxed);
    if size > LIMIT.load(Ordering::Relaxed) && !TRIPPED.swap(true, Ordering::SeqCst) {
        fatal("huge-allocation", size as u64);
    }
}

/// Largest single allocation a run may make; above it the input is saved and the process
/// aborts (only in binaries that install [`CappedAlloc`]).
pub fn set_allocation_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

/// Largest single allocation since the last [`reset_largest_allocation`].
pub fn largest_allocation() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

/// Starts a new measurement of [`largest_allocation`].
pub fn reset_largest_allocation() {
    LARGEST.store(0, Ordering::Relaxed);
}

static INPUT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);
static CRASH_DIR: OnceLock<PathBuf> = OnceLock::new();
static TARGET_NAME: OnceLock<&'static str> = OnceLock::new();

/// Where inputs that abort the process are saved, and under which target name.
pub fn set_crash_dir(dir: PathBuf, target: &'static str) {
    let _ = CRASH_DIR.set(dir);
    let _ = TARGET_NAME.set(target);
}

/// Marks `input` as the one being run, so a fatal failure can save it. The caller keeps it
/// alive and unchanged until [`clear_input`].
pub fn set_input(input: &[u8]) {
    INPUT_LEN.store(input.len(), Ordering::SeqCst);
    INPUT_PTR.store(input.as_ptr().cast_mut(), Ordering::SeqCst);
    EXEC_STARTED_MS.store(now_ms().max(1), Ordering::SeqCst);
}

/// Ends the run started by [`set_input`].
pub fn clear_input() {
    EXEC_STARTED_MS.store(0, Ordering::SeqCst);
    INPUT_PTR.store(std::ptr::null_mut(), Ordering::SeqCst);
    INPUT_LEN.store(0, Ordering::SeqCst);
}

/// Saves the current input as `<crash dir>/<target>-<kind>.bin`, says so on stderr, and aborts.
fn fatal(kind: &str, amount: u64) -> ! {
    let mut stderr = std::io::stderr();
    let _ = write!(stderr, "\npeephole-fuzz: FATAL {kind} ({amount})");
    let ptr = INPUT_PTR.load(Ordering::SeqCst);
    let len = INPUT_LEN.load(Ordering::SeqCst);
    if let (Some(dir), false) = (CRASH_DIR.get(), ptr.is_null()) {
        // SAFETY: `set_input` stored a live slice that the driver keeps until `clear_input`.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        let target = TARGET_NAME.get().copied().unwrap_or("target");
        let path = dir.join(format!("{target}-{kind}.bin"));
        let _ = std::fs::create_dir_all(dir);
        if std::fs::write(&path, input).is_ok() {
            let _ = write!(stderr, "; input saved to {}", path.display());
        }
    }
    let _ = writeln!(stderr);
    // Where the allocation or the hang happened is what a fix needs; capturing allocates,
    // which is fine now that the limit has tripped.
    let _ = writeln!(stderr, "{}", std::backtrace::Backtrace::force_capture());
    std::process::abort();
}

static EPOCH: OnceLock<Instant> = OnceLock::new();
static EXEC_STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// Starts a thread that saves the input and aborts when one run takes longer than `timeout`.
pub fn start_watchdog(timeout: Duration) {
    now_ms();
    let limit = timeout.as_millis() as u64;
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let started = EXEC_STARTED_MS.load(Ordering::SeqCst);
            if started != 0 {
                let running = now_ms().saturating_sub(started);
                if running > limit {
                    fatal("hang", running);
                }
            }
        }
    });
}
