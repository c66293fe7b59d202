//! Starting threads: [`start_new_thread`], [`start_joinable_thread`] and the [`Builder`] behind
//! them (SPAWN-3..9, AUDIT-5, STACK-5).
//!
//! Every path raises its audit event first, before anything is allocated or started (SPAWN-3):
//! a refusal returns the hook's error and changes nothing. Then the thread's record and the boxed
//! start payload are allocated and `pthread_create` is called; if the OS refuses, the payload is
//! reclaimed and `RuntimeError|can't start new thread` returned (SPAWN-4).

use std::borrow::Borrow;
use std::ffi::c_void;
use std::fmt;
use std::ptr;
use std::sync::Arc;

use thread_audit::{AuditArg, AuditError};

use crate::body::{self, ThreadResult};
use crate::handle::ThreadHandle;
use crate::record::Record;
use crate::spawn::{self, OsName};
use crate::{Ident, ThreadError, name, stack};

/// The audit argument that stands for a thread's function; `Display` is `<function {name}>`,
/// which is also the `object` a failure report names (HOOK-2).
///
/// ```
/// let d = thread_core::FunctionDescription::new("worker");
/// assert_eq!(d.to_string(), "<function worker>");
/// assert_eq!(d.name(), "worker");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FunctionDescription {
    name: String,
}

impl FunctionDescription {
    /// A description of the function called `name`.
    ///
    /// ```
    /// let _ = thread_core::FunctionDescription::new("main_loop");
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        FunctionDescription { name: name.into() }
    }

    /// The function's name.
    ///
    /// ```
    /// assert_eq!(thread_core::FunctionDescription::new("f").name(), "f");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for FunctionDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<function {}>", self.name)
    }
}

/// How an audit event is raised: the process-wide registry, or an embedder's own.
///
/// ```
/// let process_wide: thread_core::AuditFn = thread_audit::audit;
/// let h = thread_core::Builder::new().audit_with(process_wide).spawn_joinable(|| ()).unwrap();
/// h.join(None).unwrap();
/// ```
pub type AuditFn = fn(&str, &[&dyn AuditArg]) -> Result<(), AuditError>;

/// What an embedder passes when it starts a thread: a name for the OS, a description of the
/// function (for audit and failure reports), a stack size, whether a joinable thread is a daemon
/// (HANDLE-3), audit arguments and the audit function.
///
/// ```
/// use thread_core::Builder;
/// let handle = Builder::new()
///     .name("worker")
///     .describe("worker_main")
///     .stack_size(256 * 1024)
///     .spawn_joinable(|| -> Result<(), String> { Ok(()) })
///     .unwrap();
/// handle.join(None).unwrap();
/// ```
pub struct Builder {
    name: Option<String>,
    description: Option<String>,
    stack_size: Option<usize>,
    audit_args: Option<Vec<Box<dyn AuditArg>>>,
    audit: AuditFn,
    daemon: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("stack_size", &self.stack_size)
            .field("audit_args", &self.audit_args)
            .field("daemon", &self.daemon)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

/// The kind of spawn, which picks the audit event (AUDIT-5).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Detached,
    Joinable,
}

impl Builder {
    /// A builder with no name, the function's type name as its description, the process-wide
    /// [`stack_size`](crate::stack_size), CPython's audit arguments and the process-wide audit
    /// registry.
    ///
    /// ```
    /// let ident = thread_core::Builder::new().spawn(|| ()).unwrap();
    /// assert_ne!(ident.as_u64(), 0);
    /// ```
    pub fn new() -> Self {
        Builder {
            name: None,
            description: None,
            stack_size: None,
            audit_args: None,
            audit: thread_audit::audit,
            daemon: true,
        }
    }

    /// Whether a joinable thread is a daemon (the default) or not (HANDLE-3):
    /// [`shutdown`](crate::shutdown) waits for every non-daemon thread that is not done. It
    /// applies to [`spawn_joinable`](Self::spawn_joinable) and a joinable
    /// [`spawn_foreign`](Self::spawn_foreign); a detached thread is never waited for. With CPython's
    /// audit arguments, the joinable event's second argument is `1i32`, or `0i32` for
    /// `daemon(false)` (AUDIT-5).
    ///
    /// ```
    /// let h = thread_core::Builder::new().daemon(false).spawn_joinable(|| ()).unwrap();
    /// thread_core::shutdown().unwrap(); // waits for it
    /// assert!(h.is_done());
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = daemon;
        self
    }

    /// The OS name of the new thread (SPAWN-8: cut at 15 bytes, stopped at a NUL).
    ///
    /// ```
    /// let h = thread_core::Builder::new().name("net-io").spawn_joinable(|| ()).unwrap();
    /// h.join(None).unwrap();
    /// ```
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// The function's name for audit events and failure reports (`<function {name}>`).
    ///
    /// ```
    /// let h = thread_core::Builder::new().describe("poll").spawn_joinable(|| ()).unwrap();
    /// h.join(None).unwrap();
    /// ```
    pub fn describe(mut self, name: &str) -> Self {
        self.description = Some(name.to_owned());
        self
    }

    /// The stack size of this thread, overriding [`stack_size`](crate::stack_size); 0 is
    /// pthread's default. A size that `stack_size` would refuse is refused at spawn, with its
    /// error.
    ///
    /// ```
    /// let err = thread_core::Builder::new().stack_size(1000).spawn(|| ()).unwrap_err();
    /// assert_eq!(err.to_string(), "size not valid: 1000 bytes");
    /// ```
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = Some(size);
        self
    }

    /// The arguments of the audit event, instead of CPython's defaults (AUDIT-5).
    ///
    /// ```
    /// let h = thread_core::Builder::new()
    ///     .audit_args(vec![Box::new("<function f>"), Box::new(()), Box::new(None::<()>)])
    ///     .spawn_joinable(|| ())
    ///     .unwrap();
    /// h.join(None).unwrap();
    /// ```
    pub fn audit_args(mut self, args: Vec<Box<dyn AuditArg>>) -> Self {
        self.audit_args = Some(args);
        self
    }

    /// The function that raises the audit event, instead of the process-wide registry.
    ///
    /// ```
    /// use thread_audit::{AuditArg, AuditError};
    /// fn deny(_: &str, _: &[&dyn AuditArg]) -> Result<(), AuditError> {
    ///     Err(AuditError::new("PermissionError", "no threads"))
    /// }
    /// let err = thread_core::Builder::new().audit_with(deny).spawn(|| ()).unwrap_err();
    /// assert_eq!((err.python_type(), err.to_string().as_str()), ("PermissionError", "no threads"));
    /// ```
    pub fn audit_with(mut self, audit: AuditFn) -> Self {
        self.audit = audit;
        self
    }

    /// Starts a detached thread running `function`; returns its ident at once (SPAWN-5).
    ///
    /// ```
    /// let ident = thread_core::Builder::new().spawn(|| ()).unwrap();
    /// assert_ne!(ident, thread_core::get_ident());
    /// ```
    pub fn spawn<F, R>(self, function: F) -> Result<Ident, ThreadError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: ThreadResult,
    {
        self.spawn_rust(function, Kind::Detached)
            .map(|(ident, _)| ident)
    }

    /// Starts a joinable thread running `function` and returns its handle (SPAWN-7).
    ///
    /// ```
    /// let h = thread_core::Builder::new().spawn_joinable(|| ()).unwrap();
    /// h.join(None).unwrap();
    /// ```
    pub fn spawn_joinable<F, R>(self, function: F) -> Result<ThreadHandle, ThreadError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: ThreadResult,
    {
        let (ident, record) = self.spawn_rust(function, Kind::Joinable)?;
        Ok(ThreadHandle::new(record, ident))
    }

    /// Starts a thread running a foreign body (SPAWN-9): `body(arg)` is called directly by an
    /// `extern "C-unwind"` trampoline that holds no `catch_unwind` and no value with a
    /// destructor, so a forced unwind (`pthread_exit`) ends the thread instead of aborting the
    /// process. Audit, count and ident work as on the other paths; the thread's bookkeeping is
    /// released by a thread-local destructor even after `pthread_exit`. Returns the ident and, if
    /// `joinable`, a handle.
    ///
    /// # Safety
    ///
    /// `arg` must be valid for whatever `body` does with it, on another thread. `body` must
    /// report its own failures: an ordinary Rust panic escaping it aborts the process. It must not
    /// call [`exit`](crate::exit).
    ///
    /// ```
    /// use std::ffi::c_void;
    /// extern "C-unwind" fn body(_arg: *mut c_void) {}
    /// // SAFETY: `body` ignores its argument and does not unwind.
    /// let (ident, handle) =
    ///     unsafe { thread_core::Builder::new().spawn_foreign(body, std::ptr::null_mut(), true) }
    ///         .unwrap();
    /// let handle = handle.unwrap();
    /// assert_eq!(handle.ident(), ident);
    /// handle.join(None).unwrap();
    /// ```
    pub unsafe fn spawn_foreign(
        self,
        body: extern "C-unwind" fn(*mut c_void),
        arg: *mut c_void,
        joinable: bool,
    ) -> Result<(Ident, Option<ThreadHandle>), ThreadError> {
        let kind = if joinable {
            Kind::Joinable
        } else {
            Kind::Detached
        };
        // Described only if the event is raised with the description: formatting the address
        // was a fifth of the instructions pythread added to a Python thread's start and join.
        let describe = || {
            FunctionDescription::new(
                self.description
                    .clone()
                    .unwrap_or_else(|| format!("{body:p}")),
            )
        };
        let stack_size = self.prepare(describe, kind)?;
        let record = Arc::new(Record::new());
        let payload = Box::new(ForeignPayload {
            body,
            arg,
            record: Arc::clone(&record),
            os_name: self.name.as_deref().map(name::os_name),
        });
        let raw = Box::into_raw(payload);
        // SAFETY: `foreign_start` is an `extern "C-unwind" fn(*mut c_void) -> *mut c_void`;
        // "C-unwind" has the "C" calling convention, so pthread may call it through the "C"
        // pointer type it declares. Unwinding out of it only ever meets glibc's forced-unwind
        // machinery in `start_thread`, which expects it.
        let start: extern "C" fn(*mut c_void) -> *mut c_void = unsafe {
            std::mem::transmute::<
                extern "C-unwind" fn(*mut c_void) -> *mut c_void,
                extern "C" fn(*mut c_void) -> *mut c_void,
            >(foreign_start)
        };
        let os_join = joinable.then_some(&*record);
        self.enter_non_daemons(&record, kind);
        match spawn::create(start, raw.cast(), stack_size, os_join) {
            Ok(ident) => Ok((ident, joinable.then(|| ThreadHandle::new(record, ident)))),
            Err(e) => {
                record.leave_non_daemons();
                // SAFETY: the thread was not created, so `raw` is still ours alone.
                drop(unsafe { Box::from_raw(raw) });
                Err(e)
            }
        }
    }

    fn spawn_rust<F, R>(self, function: F, kind: Kind) -> Result<(Ident, Arc<Record>), ThreadError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: ThreadResult,
    {
        let description = FunctionDescription::new(
            self.description
                .clone()
                .unwrap_or_else(|| std::any::type_name::<F>().to_owned()),
        );
        let stack_size = self.prepare(|| &description, kind)?;
        let record = Arc::new(Record::new());
        let payload = Box::new(RustPayload {
            function,
            object: description.to_string(),
            record: Arc::clone(&record),
            os_name: self.name.as_deref().map(name::os_name),
        });
        let raw = Box::into_raw(payload);
        let os_join = (kind == Kind::Joinable).then_some(&*record);
        self.enter_non_daemons(&record, kind);
        match spawn::create(rust_start::<F, R>, raw.cast(), stack_size, os_join) {
            Ok(ident) => Ok((ident, record)),
            Err(e) => {
                record.leave_non_daemons();
                // SAFETY: the thread was not created, so `raw` is still ours alone.
                drop(unsafe { Box::from_raw(raw) });
                Err(e)
            }
        }
    }

    /// A joinable non-daemon thread is counted for [`shutdown`](crate::shutdown) before it is
    /// created, so a `shutdown` that starts after the spawn returns always waits for it.
    fn enter_non_daemons(&self, record: &Record, kind: Kind) {
        if kind == Kind::Joinable && !self.daemon {
            record.join_non_daemons();
        }
    }

    /// Checks the stack size and raises the start event, with the builder's
    /// [`audit_args`](Self::audit_args) or else with the description `describe` makes or lends;
    /// returns the stack size to use.
    fn prepare<D: Borrow<FunctionDescription>>(
        &self,
        describe: impl FnOnce() -> D,
        kind: Kind,
    ) -> Result<usize, ThreadError> {
        let stack_size = match self.stack_size {
            None => stack::current(),
            Some(size) => stack::validate(size)?,
        };
        let event = match kind {
            Kind::Detached => "_thread.start_new_thread",
            Kind::Joinable => "_thread.start_joinable_thread",
        };
        match &self.audit_args {
            Some(args) => {
                let args: Vec<&dyn AuditArg> = args.iter().map(|a| &**a as &dyn AuditArg).collect();
                (self.audit)(event, &args)?;
            }
            None if kind == Kind::Detached => {
                let description = describe();
                (self.audit)(event, &[description.borrow(), &(), &None::<()>])?;
            }
            None => {
                let description = describe();
                let daemon = i32::from(self.daemon);
                (self.audit)(event, &[description.borrow(), &daemon, &None::<()>])?
            }
        }
        Ok(stack_size)
    }
}

/// What a Rust thread starts with.
struct RustPayload<F> {
    function: F,
    object: String,
    record: Arc<Record>,
    os_name: Option<OsName>,
}

extern "C" fn rust_start<F, R>(arg: *mut c_void) -> *mut c_void
where
    F: FnOnce() -> R + Send + 'static,
    R: ThreadResult,
{
    // SAFETY: `arg` is the `RustPayload<F>` boxed by `spawn_rust`, handed over to this thread.
    let payload = unsafe { Box::from_raw(arg.cast::<RustPayload<F>>()) };
    let RustPayload {
        function,
        object,
        record,
        os_name,
    } = *payload;
    spawn::thread_started(record, os_name);
    body::run(&object, function);
    drop(object);
    spawn::thread_finished();
    ptr::null_mut()
}

/// What a foreign thread starts with.
struct ForeignPayload {
    body: extern "C-unwind" fn(*mut c_void),
    arg: *mut c_void,
    record: Arc<Record>,
    os_name: Option<OsName>,
}

/// The foreign trampoline (SPAWN-9). Everything with a destructor (the payload's box, the
/// record) is handled in `foreign_begin`, whose frame is gone before `body` runs: while `body`
/// runs, this frame holds only a function pointer and a raw pointer, so a forced unwind finds
/// nothing to run here.
extern "C-unwind" fn foreign_start(payload: *mut c_void) -> *mut c_void {
    let (body, arg) = foreign_begin(payload);
    body(arg);
    spawn::thread_finished();
    ptr::null_mut()
}

#[inline(never)]
fn foreign_begin(payload: *mut c_void) -> (extern "C-unwind" fn(*mut c_void), *mut c_void) {
    // SAFETY: `payload` is the `ForeignPayload` boxed by `spawn_foreign`, handed to this thread.
    let payload = unsafe { Box::from_raw(payload.cast::<ForeignPayload>()) };
    let ForeignPayload {
        body,
        arg,
        record,
        os_name,
    } = *payload;
    spawn::thread_started(record, os_name);
    (body, arg)
}

/// CPython's `_thread.start_new_thread(function, ())`: starts a detached thread running
/// `function` and returns its ident at once (SPAWN-5). The audit event
/// `_thread.start_new_thread` comes first (SPAWN-3); a failure of `function` (a panic, or
/// `Err`) is reported through the unraisable hook, `SystemExit` ends it silently.
///
/// ```
/// let ident = thread_core::start_new_thread(|| println!("hello")).unwrap();
/// assert_ne!(ident, thread_core::get_ident());
/// ```
pub fn start_new_thread<F, R>(function: F) -> Result<Ident, ThreadError>
where
    F: FnOnce() -> R + Send + 'static,
    R: ThreadResult,
{
    Builder::new().spawn(function)
}

/// CPython 3.13's `_thread.start_joinable_thread(function)`: starts a thread and returns its
/// [`ThreadHandle`] (SPAWN-7), after the audit event `_thread.start_joinable_thread`.
///
/// ```
/// let handle = thread_core::start_joinable_thread(|| ()).unwrap();
/// handle.join(None).unwrap();
/// ```
pub fn start_joinable_thread<F, R>(function: F) -> Result<ThreadHandle, ThreadError>
where
    F: FnOnce() -> R + Send + 'static,
    R: ThreadResult,
{
    Builder::new().spawn_joinable(function)
}
