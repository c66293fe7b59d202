//! STACK-1 and STACK-5: the setting applies to threads started after it, and 0 is pthread's
//! default attribute (the `RLIMIT_STACK` soft limit), not Rust's 2 MiB. Own process: it sets
//! the process-wide stack size.

use std::mem::MaybeUninit;
use std::sync::mpsc;

use thread_core::{Builder, stack_size, start_joinable_thread};

/// The calling thread's stack size, as pthread reports it.
fn my_stack_size() -> usize {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    let mut size = 0;
    // SAFETY: `pthread_getattr_np` initialises `attr` for the calling thread; it is read and
    // destroyed once.
    unsafe {
        assert_eq!(
            libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()),
            0
        );
        assert_eq!(libc::pthread_attr_getstacksize(attr.as_ptr(), &mut size), 0);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
    }
    size
}

fn spawned_stack_size(builder: Option<Builder>) -> usize {
    let (tx, rx) = mpsc::channel();
    let body = move || tx.send(my_stack_size()).unwrap();
    let h = match builder {
        Some(b) => b.spawn_joinable(body),
        None => start_joinable_thread(body),
    }
    .unwrap();
    h.join(None).unwrap();
    rx.recv().unwrap()
}

fn pthread_default() -> usize {
    let mut attr = MaybeUninit::<libc::pthread_attr_t>::uninit();
    let mut size = 0;
    // SAFETY: initialised, read, destroyed.
    unsafe {
        libc::pthread_attr_init(attr.as_mut_ptr());
        libc::pthread_attr_getstacksize(attr.as_ptr(), &mut size);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
    }
    size
}

/// glibc aligns a requested size to its granularity and may hand out a cached stack of up to
/// four times the request, which `pthread_getattr_np` then reports.
fn assert_about(got: usize, requested: usize) {
    assert!(
        got + 8192 >= requested && got <= 4 * requested + 8192,
        "got {got} for {requested}"
    );
}

/// proves: STACK-1, STACK-5
#[test]
fn the_setting_applies_to_later_threads_and_zero_is_the_pthread_default() {
    let default = pthread_default();
    let mut limit = MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: `getrlimit` fills the struct.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_STACK, limit.as_mut_ptr()) };
    assert_eq!(rc, 0);
    // SAFETY: filled above.
    let soft = unsafe { limit.assume_init() }.rlim_cur;
    if soft != libc::RLIM_INFINITY {
        assert_eq!(default as u64, soft);
    }
    assert_eq!(stack_size(None), Ok(0));
    assert_eq!(spawned_stack_size(None), default);
    assert_ne!(spawned_stack_size(None), 2 << 20, "not Rust's 2 MiB");

    assert_eq!(stack_size(Some(1 << 20)), Ok(0));
    assert_about(spawned_stack_size(None), 1 << 20);
    // The builder's size wins over the setting.
    assert_about(
        spawned_stack_size(Some(Builder::new().stack_size(512 << 10))),
        512 << 10,
    );
    assert_eq!(
        spawned_stack_size(Some(Builder::new().stack_size(0))),
        default
    );
    // No rounding by pythread: 65537 is taken as is (glibc aligns what it maps to its own
    // granularity, so the thread sees about that size).
    assert_eq!(stack_size(Some(65536 + 1)), Ok(1 << 20));
    assert_about(spawned_stack_size(None), 65537);

    assert_eq!(stack_size(Some(0)), Ok(65537));
    assert_eq!(spawned_stack_size(None), default);
}
