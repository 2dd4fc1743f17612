//! Proves that a lying IDX header cannot make the reader allocate what it claims: a counting
//! global allocator records the largest single allocation while a header claiming ~4 GB (and,
//! through its dimensions, ~16 EB) is parsed from a few bytes, raw and gzipped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::Compression;
use flate2::write::GzEncoder;

/// Wraps the system allocator and remembers the largest request it has seen.
struct PeakRequest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakRequest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakRequest = PeakRequest;

fn header(dims: &[u32]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

// One test in this binary, so no other test's allocations pollute the peak.
#[test]
fn lying_headers_never_trigger_an_allocation_of_the_claimed_size() {
    let mut inputs = Vec::new();
    for dims in [
        vec![u32::MAX],
        vec![u32::MAX, u32::MAX],
        vec![u32::MAX, 28, 28],
    ] {
        let mut raw = header(&dims);
        raw.extend_from_slice(&[1; 12]);
        inputs.push(gzip(&raw));
        inputs.push(raw);
    }
    LARGEST.store(0, Ordering::Relaxed);
    for bytes in &inputs {
        assert!(peephole_data::parse_idx(bytes).is_err());
        assert!(peephole_data::parse_idx_limited(bytes, Some(6_000)).is_err());
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    // The streaming reader may reserve up to 1 MiB up front; the gzip decoder keeps its own
    // window. Anything near the claimed gigabytes fails this bound by orders of magnitude.
    assert!(
        largest < 8 << 20,
        "largest single allocation was {largest} bytes"
    );
}
