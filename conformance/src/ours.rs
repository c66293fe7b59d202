//! Runs operation sequences on pythread's own crates (thread-lock, thread-core), producing the
//! same [`Outcome`]s as the CPython driver and the model.

use std::sync::Mutex;

use thread_core::{Ident, ThreadResult};
use thread_hooks::UnraisableHookArgs;
use thread_lock::{Lock, RLock, RLockState};

use crate::ops::{LOCKS, Op, Outcome, Owner, Value, normalize_repr};

/// What a failing thread of [`Op::ThreadFails`] returns.
#[derive(Debug)]
struct TaskFailed;

impl std::fmt::Display for TaskFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("task failed")
    }
}

/// What the recording hook saw last.
static REPORTED: Mutex<Option<UnraisableHookArgs>> = Mutex::new(None);

/// Runs `task` on a thread described as `task` with a recording unraisable hook, waits for it
/// to end (`join` waits for the hook's report too), and says what the hook was given. The hook
/// is process-wide: callers run one at a time (the differential harness is single-threaded).
fn thread_ends<R: ThreadResult>(task: impl FnOnce() -> R + Send + 'static) -> Outcome {
    *REPORTED.lock().unwrap_or_else(|e| e.into_inner()) = None;
    thread_hooks::set_unraisable_hook(|args: &UnraisableHookArgs| {
        *REPORTED.lock().unwrap_or_else(|e| e.into_inner()) = Some(args.clone());
    });
    let ended = thread_core::Builder::new()
        .describe("task")
        .spawn_joinable(task)
        .and_then(|handle| handle.join(None));
    thread_hooks::reset_unraisable_hook();
    if let Err(error) = ended {
        return failed(error.python_type(), &error);
    }
    let report = REPORTED.lock().unwrap_or_else(|e| e.into_inner()).take();
    let text = crate::ops::unraisable_text(report.as_ref().map(|args| {
        (
            args.exc_value.as_str(),
            args.err_msg.as_deref(),
            args.object.as_deref(),
        )
    }));
    Outcome::Ok(Value::Str(text))
}

/// The objects one sequence works on: fresh locks, and the thread that runs it.
#[derive(Debug)]
pub struct Sequence {
    locks: [Lock; LOCKS],
    rlocks: [RLock; LOCKS],
    main: Ident,
}

impl Default for Sequence {
    fn default() -> Self {
        Self::new()
    }
}

fn failed(python_type: &str, error: impl std::fmt::Display) -> Outcome {
    Outcome::error(python_type, error.to_string())
}

fn unit<E: std::fmt::Display>(
    result: Result<(), E>,
    python_type: impl Fn(&E) -> String,
) -> Outcome {
    match result {
        Ok(()) => Outcome::Ok(Value::None),
        Err(error) => failed(&python_type(&error), error),
    }
}

impl Sequence {
    /// Fresh locks, owned by the calling thread's sequence.
    ///
    /// ```
    /// use conformance::ops::Op;
    /// let sequence = conformance::ours::Sequence::new();
    /// assert_eq!(sequence.run(&Op::LockLocked { lock: 0 }).to_string(), "False");
    /// ```
    pub fn new() -> Sequence {
        Sequence {
            locks: [Lock::new(), Lock::new()],
            rlocks: [RLock::new(), RLock::new()],
            main: thread_core::get_ident(),
        }
    }

    /// Lock `index` of the sequence.
    ///
    /// ```
    /// assert!(!conformance::ours::Sequence::new().lock(0).locked());
    /// ```
    pub fn lock(&self, index: usize) -> &Lock {
        &self.locks[index]
    }

    /// RLock `index` of the sequence.
    ///
    /// ```
    /// assert_eq!(conformance::ours::Sequence::new().rlock(1).recursion_count(), 0);
    /// ```
    pub fn rlock(&self, index: usize) -> &RLock {
        &self.rlocks[index]
    }

    fn repr(&self, lock: &dyn std::fmt::Debug) -> Outcome {
        let text = format!("{lock:?}");
        Outcome::Ok(Value::Str(normalize_repr(&text, self.main.as_u64())))
    }

    fn owner(&self, ident: Ident) -> Owner {
        if ident == self.main {
            Owner::Main
        } else {
            Owner::Other
        }
    }

    /// Runs one operation on the calling thread (a helper thread for [`Op::OtherThread`]).
    /// [`Op::InterruptMain`] runs the check right after, so it must run on the main thread.
    ///
    /// ```
    /// use conformance::ops::Op;
    /// let sequence = conformance::ours::Sequence::new();
    /// let outcome = sequence.run(&Op::LockAcquire { lock: 1, blocking: true, timeout: f64::NAN });
    /// assert_eq!(outcome.to_string(), "ValueError: Invalid value NaN (not a number)");
    /// ```
    pub fn run(&self, op: &Op) -> Outcome {
        let lock_type = |e: &thread_lock::LockError| e.python_type().to_owned();
        let thread_type = |e: &thread_core::ThreadError| e.python_type().to_owned();
        match *op {
            Op::LockAcquire {
                lock,
                blocking,
                timeout,
            } => match self.locks[lock].acquire(blocking, timeout) {
                Ok(got) => Outcome::Ok(Value::Bool(got)),
                Err(error) => failed(error.python_type(), &error),
            },
            Op::LockRelease { lock } => unit(self.locks[lock].release(), lock_type),
            Op::LockLocked { lock } => Outcome::Ok(Value::Bool(self.locks[lock].locked())),
            Op::LockRepr { lock } => self.repr(&self.locks[lock]),
            Op::RLockRepr { lock } => self.repr(&self.rlocks[lock]),
            Op::RLockAcquire {
                lock,
                blocking,
                timeout,
            } => match self.rlocks[lock].acquire(blocking, timeout) {
                Ok(got) => Outcome::Ok(Value::Bool(got)),
                Err(error) => failed(error.python_type(), &error),
            },
            Op::RLockRelease { lock } => unit(self.rlocks[lock].release(), lock_type),
            Op::RLockIsOwned { lock } => Outcome::Ok(Value::Bool(self.rlocks[lock].is_owned())),
            Op::RLockRecursionCount { lock } => {
                Outcome::Ok(Value::Int(self.rlocks[lock].recursion_count() as i128))
            }
            Op::RLockReleaseSave { lock } => match self.rlocks[lock].release_save() {
                Ok(state) => {
                    let (count, owner) = state.into_parts();
                    Outcome::Ok(Value::Saved {
                        count,
                        owner: self.owner(owner),
                    })
                }
                Err(error) => failed(error.python_type(), &error),
            },
            Op::RLockAcquireRestore { lock, count } => {
                let state = RLockState::from_parts(count, thread_core::get_ident());
                self.rlocks[lock].acquire_restore(state);
                Outcome::Ok(Value::None)
            }
            Op::StackSize { size } => match thread_core::stack_size(Some(size)) {
                Ok(previous) => Outcome::Ok(Value::Int(previous as i128)),
                Err(error) => failed(error.python_type(), &error),
            },
            Op::StackSizeQuery => match thread_core::stack_size(None) {
                Ok(current) => Outcome::Ok(Value::Int(current as i128)),
                Err(error) => failed(error.python_type(), &error),
            },
            Op::TimeoutMax => Outcome::Ok(Value::F64(thread_lock::TIMEOUT_MAX.to_bits())),
            Op::InterruptMain { signum } => {
                match unit(thread_core::interrupt_main(signum), thread_type) {
                    Outcome::Ok(_) => match thread_core::check_signals() {
                        Ok(()) => Outcome::Ok(Value::None),
                        Err(interrupt) => Outcome::Ok(Value::Fired {
                            python_type: interrupt.python_type().to_owned(),
                            message: interrupt.to_string(),
                        }),
                    },
                    refused => refused,
                }
            }
            Op::ThreadFails { panic } => thread_ends(move || -> Result<(), TaskFailed> {
                if panic {
                    std::panic::panic_any("task failed");
                }
                Err(TaskFailed)
            }),
            Op::ThreadExits => thread_ends(|| -> () { thread_core::exit() }),
            Op::StartThread => {
                let before = thread_core::count();
                match thread_core::start_joinable_thread(|| ()).and_then(|h| h.join(None)) {
                    Ok(()) => Outcome::Ok(Value::None),
                    // SPAWN-4: a refused spawn leaves the count as it was.
                    Err(_) if thread_core::count() != before => {
                        Outcome::error("Bug", "a refused spawn changed count()")
                    }
                    Err(error) => failed(error.python_type(), &error),
                }
            }
            Op::OtherThread(ref inner) => {
                std::thread::scope(|scope| scope.spawn(|| self.run(inner)).join())
                    .unwrap_or_else(|_| Outcome::error("Panic", "the helper thread panicked"))
            }
        }
    }

    /// Runs a whole sequence, then puts the stack size setting back to 0 so that the next
    /// sequence starts from the default (as `driver.py` does).
    ///
    /// ```
    /// use conformance::ops::Op;
    /// let outcomes = conformance::ours::Sequence::run_all(&[Op::LockRelease { lock: 0 }]);
    /// assert_eq!(outcomes[0].to_string(), "RuntimeError: release unlocked lock");
    /// ```
    pub fn run_all(ops: &[Op]) -> Vec<Outcome> {
        let sequence = Sequence::new();
        let outcomes = ops.iter().map(|op| sequence.run(op)).collect();
        let _ = thread_core::stack_size(Some(0));
        outcomes
    }
}
