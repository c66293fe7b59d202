//! Runs operation sequences on pythread's own crates (thread-lock, thread-core), producing the
//! same [`Outcome`]s as the CPython driver and the model.

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use thread_core::{Ident, ThreadHandle, ThreadResult};
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

/// How long a handle's thread runs after its release (or, ungated, from its start) before it
/// ends: long enough that a join right after a release usually finds it running.
const RUNS_FOR: Duration = Duration::from_millis(2);

/// What the sequence tells a gated thread.
#[derive(Debug)]
enum Command {
    /// Join this handle (the thread's own, or another) with this timeout and reply.
    Join(ThreadHandle, Option<Duration>),
    /// End (after [`RUNS_FOR`]).
    End,
}

/// The sequence's side of a thread started by [`Op::HandleStart`].
#[derive(Debug)]
struct Worker {
    commands: Sender<Command>,
    replies: Receiver<Outcome>,
    /// Disconnected (or sent to) as the thread's last act.
    finished: Receiver<()>,
}

/// A handle of the sequence, with the ident its thread reads for itself.
#[derive(Debug)]
struct Entry {
    handle: ThreadHandle,
    ident: Ident,
    /// The thread, for handles the sequence started.
    worker: Option<Worker>,
}

/// Python's `join` timeout: `None` and negative ones wait forever.
fn join_timeout(timeout: Option<f64>) -> Option<Duration> {
    timeout
        .filter(|seconds| *seconds >= 0.0)
        .map(Duration::from_secs_f64)
}

/// A join's outcome as the runners compare it: the error, or whether the thread had ended.
fn joined(handle: &ThreadHandle, timeout: Option<Duration>) -> Outcome {
    match handle.join(timeout) {
        Ok(()) if handle.is_done() => Outcome::Ok(Value::Str("done".to_owned())),
        Ok(()) => Outcome::Ok(Value::Str("running".to_owned())),
        Err(error) => failed(error.python_type(), &error),
    }
}

/// The body of a thread started by [`Op::HandleStart`]: it reads its ident, then (gated) runs
/// the sequence's joins until told to end, runs a short while, and ends.
fn worker_body(
    gated: bool,
    started: Sender<Ident>,
    commands: Receiver<Command>,
    replies: Sender<Outcome>,
    finished: Sender<()>,
) {
    let _ = started.send(thread_core::get_ident());
    if gated {
        while let Ok(Command::Join(handle, timeout)) = commands.recv() {
            let _ = replies.send(joined(&handle, timeout));
        }
    }
    std::thread::sleep(RUNS_FOR);
    let _ = finished.send(());
}

/// The objects one sequence works on: fresh locks, the thread that runs it, and the handles
/// its operations make.
#[derive(Debug)]
pub struct Sequence {
    locks: [Lock; LOCKS],
    rlocks: [RLock; LOCKS],
    main: Ident,
    handles: Mutex<Vec<Entry>>,
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
            handles: Mutex::new(Vec::new()),
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
            Op::HandleStart { .. }
            | Op::HandleRelease { .. }
            | Op::HandleJoin { .. }
            | Op::HandleIsDone { .. }
            | Op::HandleIdent { .. }
            | Op::HandleSetDone { .. }
            | Op::HandleForThread { .. } => {
                let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
                Self::run_handle_op(&mut handles, op)
                    .unwrap_or_else(|why| Outcome::error("Harness", why))
            }
        }
    }

    /// The [3.13] handle operations; `Err` for an operation the generators should not have
    /// made (a handle that does not exist, a join by a thread that takes no commands).
    fn run_handle_op(handles: &mut Vec<Entry>, op: &Op) -> Result<Outcome, String> {
        let missing = |index: usize| format!("no handle {index}");
        match *op {
            Op::HandleStart { gated } => {
                let (started_tx, started) = mpsc::channel();
                let (commands, commands_rx) = mpsc::channel();
                let (replies_tx, replies) = mpsc::channel();
                let (finished_tx, finished) = mpsc::channel();
                let spawned = thread_core::start_joinable_thread(move || {
                    worker_body(gated, started_tx, commands_rx, replies_tx, finished_tx)
                });
                let handle = match spawned {
                    Ok(handle) => handle,
                    Err(error) => return Ok(failed(error.python_type(), &error)),
                };
                let ident = started.recv().map_err(|_| "the thread never began")?;
                handles.push(Entry {
                    handle,
                    ident,
                    worker: Some(Worker {
                        commands,
                        replies,
                        finished,
                    }),
                });
                Ok(Outcome::Ok(Value::None))
            }
            Op::HandleRelease { handle } => {
                let entry = handles.get(handle).ok_or_else(|| missing(handle))?;
                let worker = entry.worker.as_ref().ok_or("not a started handle")?;
                // A thread that has ended already (released twice) is fine: nothing to tell.
                let _ = worker.commands.send(Command::End);
                Ok(Outcome::Ok(Value::None))
            }
            Op::HandleJoin {
                handle,
                timeout,
                by,
            } => {
                let target = handles.get(handle).ok_or_else(|| missing(handle))?;
                let timeout = join_timeout(timeout);
                let Some(by) = by else {
                    return Ok(joined(&target.handle, timeout));
                };
                let command = Command::Join(target.handle.clone(), timeout);
                let joiner = handles.get(by).ok_or_else(|| missing(by))?;
                let worker = joiner.worker.as_ref().ok_or("not a started handle")?;
                worker
                    .commands
                    .send(command)
                    .map_err(|_| "the joining thread has ended")?;
                worker
                    .replies
                    .recv()
                    .map_err(|_| "the joining thread ended without a reply".into())
            }
            Op::HandleIsDone { handle } => {
                let entry = handles.get(handle).ok_or_else(|| missing(handle))?;
                Ok(Outcome::Ok(Value::Bool(entry.handle.is_done())))
            }
            Op::HandleIdent { handle } => {
                let entry = handles.get(handle).ok_or_else(|| missing(handle))?;
                Ok(Outcome::Ok(Value::Bool(
                    entry.handle.ident() == entry.ident,
                )))
            }
            Op::HandleSetDone { handle } => {
                let entry = handles.get(handle).ok_or_else(|| missing(handle))?;
                entry.handle.set_done();
                Ok(Outcome::Ok(Value::None))
            }
            Op::HandleForThread { of } => {
                let ident = match of {
                    None => thread_core::get_ident(),
                    Some(of) => handles.get(of).ok_or_else(|| missing(of))?.ident,
                };
                handles.push(Entry {
                    handle: ThreadHandle::for_thread(ident),
                    ident,
                    worker: None,
                });
                Ok(Outcome::Ok(Value::None))
            }
            _ => Err(format!("not a handle operation: {op:?}")),
        }
    }

    /// Ends every thread the sequence started and waits until each has run its last act, so
    /// that no sequence's threads outlive it.
    fn end_threads(&self) {
        let mut handles = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        for worker in handles.iter().filter_map(|entry| entry.worker.as_ref()) {
            let _ = worker.commands.send(Command::End);
        }
        for entry in handles.drain(..) {
            if let Some(worker) = entry.worker {
                // Sent, or disconnected if the body ended otherwise: either way it is over.
                let _ = worker.finished.recv();
                let _ = entry.handle.join(None);
            }
        }
    }

    /// Runs a whole sequence, then ends the threads it started and puts the stack size setting
    /// back to 0, so that the next sequence starts afresh (as `driver.py` does).
    ///
    /// ```
    /// use conformance::ops::Op;
    /// let outcomes = conformance::ours::Sequence::run_all(&[Op::LockRelease { lock: 0 }]);
    /// assert_eq!(outcomes[0].to_string(), "RuntimeError: release unlocked lock");
    /// ```
    pub fn run_all(ops: &[Op]) -> Vec<Outcome> {
        let sequence = Sequence::new();
        let outcomes = ops.iter().map(|op| sequence.run(op)).collect();
        sequence.end_threads();
        let _ = thread_core::stack_size(Some(0));
        outcomes
    }
}
