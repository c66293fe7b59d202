//! starting 10,000 short threads one after another leaves memory flat: every record and
//! payload is freed. A counting allocator measures the bytes live; own process.

mod support;

use thread_core::{count, start_joinable_thread, start_new_thread};

#[global_allocator]
static GLOBAL: support::Counting = support::Counting;

fn settle() -> isize {
    // Detached threads finish their records after they leave the count; let them go.
    while count() != 0 {
        std::thread::yield_now();
    }
    support::live()
}

/// proves: R-5
#[test]
fn ten_thousand_short_threads_leave_memory_flat() {
    // Warm up once (lazy statics, the panic hook, std's thread bookkeeping).
    for _ in 0..10 {
        start_joinable_thread(|| ()).unwrap().join(None).unwrap();
    }
    let before = settle();
    for i in 0..10_000 {
        if i % 2 == 0 {
            start_joinable_thread(|| ()).unwrap().join(None).unwrap();
        } else {
            start_new_thread(|| ()).unwrap();
            while count() != 0 {
                std::thread::yield_now();
            }
        }
    }
    let after = settle();
    // A record is about 100 bytes: 10,000 leaked would be ~1 MB. Allow a few in flight.
    assert!(
        after - before < 16 * 1024,
        "grew by {} bytes",
        after - before
    );
}
