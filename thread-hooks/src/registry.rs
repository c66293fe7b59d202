//! [`UnraisableHooks`]: the settable unraisable hook (`sys.unraisablehook`) and the path every
//! report takes through it.

use std::any::type_name;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use thread_audit::{AuditArg, AuditError};

use crate::capture::{catch_captured, drop_quietly};
use crate::{UnraisableHookArgs, default_unraisable_hook};

/// The description of the default hook in the `sys.unraisablehook` audit event.
///
/// ```
/// use thread_hooks::{DEFAULT_HOOK_NAME, UnraisableHooks};
///
/// assert_eq!(UnraisableHooks::new().hook_name(), DEFAULT_HOOK_NAME);
/// ```
pub const DEFAULT_HOOK_NAME: &str = "<default unraisable hook>";

/// The audit function a registry raises `sys.unraisablehook` through
/// ([`thread_audit::audit`] for the process-wide audit registry).
///
/// ```
/// use thread_hooks::{AuditFn, UnraisableHooks};
///
/// let audit: AuditFn = thread_audit::audit;
/// let _hooks = UnraisableHooks::with_audit(audit);
/// ```
pub type AuditFn = fn(&str, &[&dyn AuditArg]) -> Result<(), AuditError>;

/// A hook set with [`UnraisableHooks::set`], with its description.
struct Hook {
    call: Box<dyn Fn(&UnraisableHookArgs) + Send + Sync>,
    name: &'static str,
}

/// A settable unraisable hook and the path each report takes through it (`sys.unraisablehook`
/// plus `PyErr_WriteUnraisable`).
///
/// [`write`](Self::write) first raises the audit event `sys.unraisablehook(hook, unraisable)`
/// (HOOK-7), then calls the hook — the one set, or [`default_unraisable_hook`]. A hook that
/// panics is reported by the default printer under `Exception ignored in
/// sys.unraisablehook: {hook}` and the registry goes on (HOOK-6). No lock is held while a hook
/// runs, so a hook may set or reset the hook.
///
/// The process-wide instance is [`UnraisableHooks::global`], behind the free functions
/// [`set_unraisable_hook`](crate::set_unraisable_hook),
/// [`reset_unraisable_hook`](crate::reset_unraisable_hook) and
/// [`write_unraisable`](crate::write_unraisable).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use thread_hooks::{UnraisableHookArgs, UnraisableHooks};
///
/// let hooks = UnraisableHooks::new();
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// hooks.set(move |args: &UnraisableHookArgs| s.lock().unwrap().push(args.exc_value.clone()));
/// hooks.write(UnraisableHookArgs::new("ValueError", "lost"));
/// assert_eq!(*seen.lock().unwrap(), ["lost"]);
/// ```
pub struct UnraisableHooks {
    hook: Mutex<Option<Arc<Hook>>>,
    audit: AuditFn,
}

impl fmt::Debug for UnraisableHooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnraisableHooks")
            .field("hook", &self.hook_name())
            .finish_non_exhaustive()
    }
}

impl Default for UnraisableHooks {
    fn default() -> Self {
        UnraisableHooks::new()
    }
}

impl UnraisableHooks {
    /// A registry with the default hook, raising its audit events through the process-wide
    /// audit registry ([`thread_audit::audit`]).
    ///
    /// ```
    /// use thread_hooks::UnraisableHooks;
    ///
    /// static HOOKS: UnraisableHooks = UnraisableHooks::new();
    /// assert_eq!(HOOKS.hook_name(), "<default unraisable hook>");
    /// ```
    pub const fn new() -> Self {
        UnraisableHooks::with_audit(thread_audit::audit)
    }

    /// A registry with the default hook, raising its audit events through `audit` (for example
    /// a function over an embedder's own [`AuditHooks`](thread_audit::AuditHooks)).
    ///
    /// ```
    /// use thread_audit::{AuditArg, AuditError, AuditHooks};
    /// use thread_hooks::UnraisableHooks;
    ///
    /// static AUDIT: AuditHooks = AuditHooks::new();
    /// fn audit_here(event: &str, args: &[&dyn AuditArg]) -> Result<(), AuditError> {
    ///     AUDIT.audit(event, args)
    /// }
    /// let hooks = UnraisableHooks::with_audit(audit_here);
    /// # let _ = hooks;
    /// ```
    pub const fn with_audit(audit: AuditFn) -> Self {
        UnraisableHooks {
            hook: Mutex::new(None),
            audit,
        }
    }

    /// The process-wide registry.
    ///
    /// ```
    /// use thread_hooks::UnraisableHooks;
    ///
    /// assert!(std::ptr::eq(UnraisableHooks::global(), UnraisableHooks::global()));
    /// ```
    pub fn global() -> &'static UnraisableHooks {
        static GLOBAL: UnraisableHooks = UnraisableHooks::new();
        &GLOBAL
    }

    /// Sets the hook (`sys.unraisablehook = hook`), replacing the one there.
    ///
    /// ```
    /// use thread_hooks::{UnraisableHookArgs, UnraisableHooks};
    ///
    /// fn quiet(_: &UnraisableHookArgs) {}
    /// let hooks = UnraisableHooks::new();
    /// hooks.set(quiet);
    /// assert!(hooks.hook_name().ends_with("quiet"));
    /// ```
    pub fn set<H>(&self, hook: H)
    where
        H: Fn(&UnraisableHookArgs) + Send + Sync + 'static,
    {
        self.replace(Some(Arc::new(Hook {
            call: Box::new(hook),
            name: type_name::<H>(),
        })));
    }

    /// Restores the default hook (HOOK-5).
    ///
    /// ```
    /// use thread_hooks::{UnraisableHookArgs, UnraisableHooks};
    ///
    /// let hooks = UnraisableHooks::new();
    /// hooks.set(|_: &UnraisableHookArgs| {});
    /// hooks.reset();
    /// assert_eq!(hooks.hook_name(), "<default unraisable hook>");
    /// ```
    pub fn reset(&self) {
        self.replace(None);
    }

    /// The hook's description: `std::any::type_name` of the hook set, or
    /// `"<default unraisable hook>"`.
    ///
    /// ```
    /// use thread_hooks::UnraisableHooks;
    ///
    /// assert_eq!(UnraisableHooks::new().hook_name(), "<default unraisable hook>");
    /// ```
    pub fn hook_name(&self) -> &'static str {
        self.current().map_or(DEFAULT_HOOK_NAME, |hook| hook.name)
    }

    /// Reports `args` (`PyErr_WriteUnraisable`): raises `sys.unraisablehook(hook, args)`, then
    /// calls the hook. Never panics.
    ///
    /// The event's arguments are the hook's description (a `&'static str`: `type_name` of the
    /// hook, or [`DEFAULT_HOOK_NAME`]) and `args` (an `UnraisableHookArgs`); audit hooks
    /// downcast them. If an audit hook refuses the event, the hook is not called and the default printer shows
    /// `Exception ignored in audit hook:` and the refusal. If the hook panics, the default
    /// printer shows `Exception ignored in sys.unraisablehook: {hook}` and the panic; the
    /// original report is lost, as in CPython.
    ///
    /// ```
    /// use thread_hooks::{UnraisableHookArgs, UnraisableHooks};
    ///
    /// let hooks = UnraisableHooks::new();
    /// // Prints "Exception ignored in: <pool>\nRuntimeError: worker lost\n" to stderr.
    /// hooks.write(UnraisableHookArgs::new("RuntimeError", "worker lost").with_object("<pool>"));
    /// ```
    pub fn write(&self, args: UnraisableHookArgs) {
        let hook = self.current();
        let name = hook.as_ref().map_or(DEFAULT_HOOK_NAME, |hook| hook.name);
        let audited = catch_captured(|| (self.audit)("sys.unraisablehook", &[&name, &args]));
        let refusal = match audited {
            Ok(Ok(())) => None,
            Ok(Err(refusal)) => Some(UnraisableHookArgs::new(
                refusal.python_type(),
                refusal.message(),
            )),
            // A custom audit function that panics refuses, as an audit hook that panics does.
            Err(panic) => Some(panic.into_args()),
        };
        if let Some(refusal) = refusal {
            default_unraisable_hook(&refusal.with_err_msg("Exception ignored in audit hook"));
            return;
        }
        match hook {
            None => default_unraisable_hook(&args),
            Some(hook) => {
                if let Err(panic) = catch_captured(|| (hook.call)(&args)) {
                    let failure = panic
                        .into_args()
                        .with_err_msg("Exception ignored in sys.unraisablehook")
                        .with_object(hook.name);
                    default_unraisable_hook(&failure);
                }
                drop_quietly(hook);
            }
        }
    }

    /// The hook set, if any (a clone of the `Arc`, so no lock is held while it runs).
    fn current(&self) -> Option<Arc<Hook>> {
        // The lock is never held while user code runs, so it cannot really be poisoned;
        // recover the data if it somehow is.
        self.hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `new` in place and drops the old hook outside the lock.
    fn replace(&self, new: Option<Arc<Hook>>) {
        let old = std::mem::replace(
            &mut *self.hook.lock().unwrap_or_else(PoisonError::into_inner),
            new,
        );
        drop_quietly(old);
    }
}
