//! Starting a thread that does nothing and joining it: `start_joinable_thread` + `join` beside
//! `std::thread::spawn` + `join`, and `Builder::spawn_foreign` + `join`.
//!
//! Issue 6's goal: at most 1.10x std::thread.

use std::ffi::c_void;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

extern "C-unwind" fn nothing(_: *mut c_void) {}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join");
    group.bench_function("start_joinable_thread", |b| {
        b.iter(|| {
            let h = thread_core::start_joinable_thread(|| ()).expect("spawn");
            h.join(None).expect("join");
            black_box(h.ident())
        })
    });
    group.bench_function("std_thread_spawn", |b| {
        b.iter(|| {
            let h = std::thread::spawn(|| ());
            black_box(h.thread().id());
            h.join().expect("join");
        })
    });
    group.bench_function("spawn_foreign", |b| {
        b.iter(|| {
            // SAFETY: the body ignores its argument.
            let (_, h) = unsafe {
                thread_core::Builder::new().spawn_foreign(nothing, std::ptr::null_mut(), true)
            }
            .expect("spawn");
            let h = h.expect("joinable");
            h.join(None).expect("join");
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
