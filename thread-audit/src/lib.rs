//! PEP 578 audit hooks (`sys.addaudithook`, `sys.audit`) for pythread.
//!
//! What this crate offers:
//!
//! * [`AuditHooks`] — a grow-only registry of hooks, lock-free to read; one process-wide
//!   instance is [`AuditHooks::global`].
//! * [`add_audit_hook`], [`audit`], [`has_hooks`] — the free functions over the process-wide
//!   registry (`sys.addaudithook`, `sys.audit`).
//! * [`AuditEvent`] — what a hook is shown: the event's name and its arguments.
//! * [`AuditArg`] — any `'static + Debug + Send + Sync` value is an argument; hooks downcast
//!   with [`downcast_ref`](trait.AuditArg.html#method.downcast_ref).
//! * [`AuditError`] — a refusal, carrying the Python exception type and message.
//!
//! The rules (SPEC.md, AUDIT-1..6 and X-AUDIT-1): with no hooks, [`audit`] is one atomic load.
//! Hooks run in the order they were added, on a snapshot of the list taken when the event
//! begins, on whatever thread raises it; the first refusal stops the event and must stop the
//! operation. No lock is held while a hook runs, so hooks may add hooks, raise events and start
//! threads. A hook that panics refuses with a `RuntimeError`. Hooks are never removed.
//!
//! Audit hooks are a security feature: they fail closed. An embedder that forbids threads:
//!
//! ```
//! use thread_audit::{AuditError, AuditHooks};
//!
//! let hooks = AuditHooks::new(); // or the process-wide one, through `add_audit_hook`
//! hooks
//!     .add(|event| {
//!         if event.name().starts_with("_thread.start_") {
//!             return Err(AuditError::new("RuntimeError", "thread creation is disabled"));
//!         }
//!         Ok(())
//!     })
//!     .unwrap();
//!
//! // What thread-core does before it creates a thread:
//! let refused = hooks.audit("_thread.start_new_thread", &[&"<function worker>", &(), &None::<()>]);
//! let err = refused.unwrap_err();
//! assert_eq!(err.python_type(), "RuntimeError");
//! assert_eq!(err.to_string(), "thread creation is disabled");
//! ```

mod error;
mod event;
mod loom;
mod registry;

pub use error::AuditError;
pub use event::{AuditArg, AuditEvent};
pub use registry::AuditHooks;

/// Adds `hook` to the process-wide registry (`sys.addaudithook`); see [`AuditHooks::add`] for
/// the `sys.addaudithook` event and which refusals are returned.
///
/// ```
/// use thread_audit::{add_audit_hook, has_hooks};
///
/// add_audit_hook(|event| {
///     let _ = event.name();
///     Ok(())
/// })
/// .unwrap();
/// assert!(has_hooks());
/// ```
pub fn add_audit_hook<H>(hook: H) -> Result<(), AuditError>
where
    H: Fn(&AuditEvent<'_>) -> Result<(), AuditError> + Send + Sync + 'static,
{
    AuditHooks::global().add(hook)
}

/// Raises `event` with `args` to the process-wide registry (`sys.audit`); see
/// [`AuditHooks::audit`].
///
/// ```
/// use thread_audit::audit;
///
/// // With no hooks this only reads one atomic.
/// assert!(audit("my.event", &[&1i32, &"two"]).is_ok());
/// ```
#[inline]
pub fn audit(event: &str, args: &[&dyn AuditArg]) -> Result<(), AuditError> {
    AuditHooks::global().audit(event, args)
}

/// Whether the process-wide registry has any hook (a snapshot).
///
/// ```
/// use thread_audit::has_hooks;
///
/// let _maybe = has_hooks(); // other code in the process may have added one
/// ```
#[inline]
pub fn has_hooks() -> bool {
    AuditHooks::global().has_hooks()
}
