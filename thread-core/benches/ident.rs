//! `get_ident` beside `std::thread::current().id()` and `pthread_self()`, and `get_native_id`
//! beside a raw `gettid` system call.
//!
//! Issue 6's goal: `get_ident` no slower than `pthread_self` (both a thread-local read).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("ident");
    group.bench_function("get_ident", |b| {
        b.iter(|| black_box(thread_core::get_ident()))
    });
    group.bench_function("std_thread_current_id", |b| {
        b.iter(|| black_box(std::thread::current().id()))
    });
    group.bench_function("pthread_self", |b| {
        // SAFETY: `pthread_self` has no preconditions.
        b.iter(|| black_box(unsafe { libc::pthread_self() }))
    });
    group.bench_function("get_native_id", |b| {
        b.iter(|| black_box(thread_core::get_native_id()))
    });
    group.bench_function("gettid_syscall", |b| {
        // SAFETY: `gettid` has no preconditions.
        b.iter(|| black_box(unsafe { libc::syscall(libc::SYS_gettid) }))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
