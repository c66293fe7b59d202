//! Where a thread pythread started keeps its own record from its start until its end: what
//! "is this the calling thread" (HANDLE-4), [`shutdown`](crate::shutdown) and the fork handler
//! ask, and what finishes the record when the thread is ended by a forced unwind (SPAWN-9).
//!
//! # A thread-specific key, not a `thread_local!`
//!
//! The record lives in a POSIX thread-specific key whose destructor finishes it. In a library
//! loaded with `dlopen`, as thread-py's module is, a `thread_local!` costs every thread that
//! touches it the C library's allocation of the library's whole thread-local block (freed at
//! the thread's exit), and one with a destructor also a registration with the C library
//! (`__cxa_thread_atexit_impl`: an allocation and a search of the loaded objects). That was most
//! of what a Python thread's start and join cost more with pythread than with the built-in
//! module. A key's value lives in the thread's own descriptor, and the C library runs the key's
//! destructor at the thread's exit, after a forced unwind too (after the thread-locals'
//! destructors).
//!
//! Storing a value can fail only for lack of memory (a key past the first 32 keeps its values in
//! a block the C library allocates per thread), and making the key only when the process has
//! used up its keys. A thread that cannot store its record in the key keeps it in the
//! thread-local fallback below instead, which does the same at the cost above; lookups consult
//! the fallback only once some thread has used it.

use std::cell::Cell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::record::{self, Record};

/// The key, made by the first thread pythread starts.
static KEY: OnceLock<libc::pthread_key_t> = OnceLock::new();

/// Whether some thread keeps its record in the fallback (then lookups look there too).
static FALLBACK_USED: AtomicBool = AtomicBool::new(false);

/// The fallback's slot: its destructor finishes a record that the thread's normal end did not.
struct FallbackSlot(Cell<Option<Arc<Record>>>);

impl Drop for FallbackSlot {
    fn drop(&mut self) {
        if let Some(record) = self.0.take() {
            let _ = FALLBACK_RECORD.try_with(|c| c.set(std::ptr::null()));
            record.finish(record::global());
        }
    }
}

thread_local! {
    static FALLBACK: FallbackSlot = const { FallbackSlot(Cell::new(None)) };
    /// The record `FALLBACK` holds, read without touching `FALLBACK` (whose first use registers
    /// its destructor). Null when it holds none.
    static FALLBACK_RECORD: Cell<*const Record> = const { Cell::new(std::ptr::null()) };
}

/// The key's destructor: the thread ended without taking its record back (a forced unwind).
extern "C" fn finish_at_exit(value: *mut c_void) {
    // SAFETY: a non-null value of the key is always an `Arc::into_raw` of the thread's record,
    // owned by the key; the C library clears the value before calling this, so it is taken once.
    let record = unsafe { Arc::from_raw(value.cast_const().cast::<Record>()) };
    record.finish(record::global());
}

/// The key, made now if this is the first time; `None` if the process has no key left.
fn key() -> Option<libc::pthread_key_t> {
    if let Some(&key) = KEY.get() {
        return Some(key);
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: `key` is writable; `finish_at_exit` is a C-ABI function that never unwinds.
    if unsafe { libc::pthread_key_create(&mut key, Some(finish_at_exit)) } != 0 {
        return None;
    }
    if KEY.set(key).is_err() {
        // Another thread made one first: use its key, and give ours back unused.
        // SAFETY: our key, which no thread has used.
        unsafe { libc::pthread_key_delete(key) };
    }
    KEY.get().copied()
}

/// The calling thread's value of `key`: its record, or null.
fn value_of(key: libc::pthread_key_t) -> *const Record {
    // SAFETY: a key made by `key()` and never deleted.
    unsafe { libc::pthread_getspecific(key) }
        .cast_const()
        .cast()
}

/// The calling thread's value of the key, if the key exists: its record, or null.
fn key_value() -> *const Record {
    KEY.get().map_or(std::ptr::null(), |&key| value_of(key))
}

/// At the start of a thread pythread started: keeps its record until [`take`] or the thread's
/// exit.
pub(crate) fn hold(record: Arc<Record>) {
    let unstored = match key() {
        Some(key) => {
            let raw = Arc::into_raw(record);
            // SAFETY: a live key; the value is the record's `Arc`, which the key now owns.
            if unsafe { libc::pthread_setspecific(key, raw.cast()) } == 0 {
                return;
            }
            // SAFETY: not stored, so `raw` is still the `Arc` made above, ours again.
            unsafe { Arc::from_raw(raw) }
        }
        None => record,
    };
    hold_in_fallback(unstored);
}

fn hold_in_fallback(record: Arc<Record>) {
    // Relaxed: read only by this thread's own lookups after this point (program order); other
    // threads that see it false have no record in the fallback to find.
    FALLBACK_USED.store(true, Ordering::Relaxed);
    FALLBACK_RECORD.set(Arc::as_ptr(&record));
    FALLBACK.with(|slot| slot.0.set(Some(record)));
}

/// At the normal end of the thread: takes its record back (nothing is left to finish at exit).
pub(crate) fn take() -> Option<Arc<Record>> {
    if let Some(&key) = KEY.get() {
        let raw = value_of(key);
        if !raw.is_null() {
            // SAFETY: a live key; clearing the calling thread's value needs no memory.
            unsafe { libc::pthread_setspecific(key, std::ptr::null()) };
            // SAFETY: the key's value is an `Arc::into_raw` of the record, and the key no
            // longer owns it.
            return Some(unsafe { Arc::from_raw(raw) });
        }
    }
    if !FALLBACK_USED.load(Ordering::Relaxed) {
        return None;
    }
    let _ = FALLBACK_RECORD.try_with(|c| c.set(std::ptr::null()));
    FALLBACK.try_with(|slot| slot.0.take()).ok().flatten()
}

/// The calling thread's own record, if pythread started it and it has not ended; null else.
/// Valid while the thread runs, until [`take`] (the key or the fallback owns it until then).
pub(crate) fn get() -> *const Record {
    let raw = key_value();
    if raw.is_null() && FALLBACK_USED.load(Ordering::Relaxed) {
        return FALLBACK_RECORD
            .try_with(Cell::get)
            .unwrap_or(std::ptr::null());
    }
    raw
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Starts a `std::thread` that raises the running count as a spawn would (finishing a record
    /// lowers it), keeps a new record with `hold_with`, checks that it is the thread's own, and
    /// either takes it back and finishes it (`take_back`) or leaves it to the thread's exit.
    /// Returns the record once the thread is gone.
    fn record_of_a_thread(hold_with: fn(Arc<Record>), take_back: bool) -> Arc<Record> {
        let record = Arc::new(Record::new());
        let held = Arc::clone(&record);
        std::thread::spawn(move || {
            record::global().rise();
            let expected = Arc::as_ptr(&held);
            hold_with(held);
            assert_eq!(get(), expected);
            if take_back {
                let taken = take().expect("the thread's record");
                assert_eq!(Arc::as_ptr(&taken), expected);
                assert!(get().is_null());
                assert!(take().is_none());
                taken.finish(record::global());
            }
        })
        .join()
        .unwrap();
        record
    }

    fn assert_finished_and_let_go(record: &Arc<Record>) {
        assert!(record.is_done());
        assert_eq!(Arc::strong_count(record), 1, "the thread kept a reference");
    }

    #[test]
    fn a_record_left_in_the_key_is_finished_at_the_threads_exit() {
        assert_finished_and_let_go(&record_of_a_thread(hold, false));
    }

    #[test]
    fn take_gives_the_record_back_and_leaves_nothing_for_the_exit() {
        assert_finished_and_let_go(&record_of_a_thread(hold, true));
    }

    #[test]
    fn the_fallback_holds_and_finishes_a_record_the_same_way() {
        assert_finished_and_let_go(&record_of_a_thread(hold_in_fallback, false));
        assert_finished_and_let_go(&record_of_a_thread(hold_in_fallback, true));
    }

    #[test]
    fn a_thread_pythread_did_not_start_has_no_record() {
        std::thread::spawn(|| {
            assert!(get().is_null());
            assert!(take().is_none());
        })
        .join()
        .unwrap();
    }
}
