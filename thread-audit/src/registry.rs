//! [`AuditHooks`]: a grow-only, lock-free list of hooks.
//!
//! # Implementation details
//!
//! The hooks live in a singly linked list of heap nodes that is only ever appended to while the
//! registry is shared; nodes are freed only by `Drop`, which has `&mut self` and so no readers.
//! Beside the list sits `len`, the number of nodes that are fully linked.
//!
//! * **Append** (`push`): walk from `head` and `compare_exchange` the first null link to the
//!   new node (so concurrent appends serialise on the link, without a lock), then
//!   `len.fetch_add(1)`. The link is stored with `Release` so that whoever reads the pointer
//!   also sees the node's contents; the walk reads links with `Acquire` for the same reason.
//! * **Read** (`audit`): one `Acquire` load of `len`. Zero means no hooks: return (AUDIT-1).
//!   Otherwise call the first `len` hooks, which is the snapshot X-AUDIT-1 asks for: a hook
//!   added while the event runs is linked after them and not called for this event.
//!
//! Why a reader that saw `len == n` may follow the first `n` links with `Relaxed` loads: the
//! `fetch_add` calls are `Release` read-modify-writes, so they form one release sequence and the
//! `Acquire` load synchronises with every increment before the value it read. Of the `n`
//! appenders whose increments it saw, the one whose node sits furthest down the list (at
//! position `n - 1` or later) walked every earlier link with `Acquire` before linking its own
//! node and then incrementing. So every link among the first `n` happens-before the reader's
//! loads; each link is written exactly once (null to node), and a load that a write
//! happens-before cannot return the older null. The nodes' contents are published the same way.
//!
//! No lock is held while a hook runs, so a hook may add hooks, raise events or start threads.
//! A hook runs under `catch_unwind`: a panic becomes a `RuntimeError` refusal and nothing is
//! left half-updated (the list is only read while hooks run).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::loom::{AtomicPtr, AtomicUsize, Ordering};
use crate::{AuditArg, AuditError, AuditEvent};

/// The type of a stored hook.
type HookFn = dyn Fn(&AuditEvent<'_>) -> Result<(), AuditError> + Send + Sync;

/// One hook in the list.
struct Node {
    hook: Box<HookFn>,
    /// The next node; null until one is appended, then never changed.
    next: AtomicPtr<Node>,
}

/// A registry of audit hooks (`sys.addaudithook` / `sys.audit` over one list).
///
/// Hooks run in the order they were added; the first refusal stops the event. Hooks are never
/// removed. The process-wide instance is [`AuditHooks::global`], which the free functions
/// [`add_audit_hook`](crate::add_audit_hook), [`audit`](crate::audit) and
/// [`has_hooks`](crate::has_hooks) use; a test or an embedder with several interpreters can hold
/// its own value.
///
/// ```
/// use thread_audit::{AuditError, AuditHooks};
///
/// let hooks = AuditHooks::new();
/// assert!(hooks.audit("_thread.start_new_thread", &[]).is_ok());
/// hooks
///     .add(|event| match event.name() {
///         "_thread.start_new_thread" => Err(AuditError::new("RuntimeError", "no threads")),
///         _ => Ok(()),
///     })
///     .unwrap();
/// let err = hooks.audit("_thread.start_new_thread", &[]).unwrap_err();
/// assert_eq!(err.to_string(), "no threads");
/// ```
pub struct AuditHooks {
    head: AtomicPtr<Node>,
    len: AtomicUsize,
}

impl std::fmt::Debug for AuditHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditHooks")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for AuditHooks {
    fn default() -> Self {
        AuditHooks::new()
    }
}

impl AuditHooks {
    /// An empty registry.
    ///
    /// ```
    /// use thread_audit::AuditHooks;
    ///
    /// static HOOKS: AuditHooks = AuditHooks::new();
    /// assert!(!HOOKS.has_hooks());
    /// ```
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        AuditHooks {
            head: AtomicPtr::new(ptr::null_mut()),
            len: AtomicUsize::new(0),
        }
    }

    /// An empty registry (loom's atomics cannot be built in a `const fn`).
    #[cfg(loom)]
    pub fn new() -> Self {
        AuditHooks {
            head: AtomicPtr::new(ptr::null_mut()),
            len: AtomicUsize::new(0),
        }
    }

    /// The process-wide registry, used by the free functions and by every spawn that does not
    /// name another one.
    ///
    /// ```
    /// use thread_audit::AuditHooks;
    ///
    /// assert!(std::ptr::eq(AuditHooks::global(), AuditHooks::global()));
    /// ```
    pub fn global() -> &'static AuditHooks {
        #[cfg(not(loom))]
        {
            static GLOBAL: AuditHooks = AuditHooks::new();
            &GLOBAL
        }
        #[cfg(loom)]
        {
            static GLOBAL: std::sync::OnceLock<AuditHooks> = std::sync::OnceLock::new();
            GLOBAL.get_or_init(AuditHooks::new)
        }
    }

    /// Whether any hook has been added. A snapshot: another thread may add one at any time.
    ///
    /// ```
    /// use thread_audit::AuditHooks;
    ///
    /// let hooks = AuditHooks::new();
    /// assert!(!hooks.has_hooks());
    /// hooks.add(|_| Ok(())).unwrap();
    /// assert!(hooks.has_hooks());
    /// ```
    #[inline]
    pub fn has_hooks(&self) -> bool {
        // Relaxed: a snapshot answer; no node is read through it.
        self.len.load(Ordering::Relaxed) != 0
    }

    /// How many hooks have been added.
    ///
    /// ```
    /// use thread_audit::AuditHooks;
    ///
    /// let hooks = AuditHooks::new();
    /// hooks.add(|_| Ok(())).unwrap();
    /// hooks.add(|_| Ok(())).unwrap();
    /// assert_eq!(hooks.len(), 2);
    /// ```
    #[inline]
    pub fn len(&self) -> usize {
        // Relaxed: the count is only reported, no node is read through it.
        self.len.load(Ordering::Relaxed)
    }

    /// Whether no hook has been added (the opposite of [`has_hooks`](Self::has_hooks)).
    ///
    /// ```
    /// use thread_audit::AuditHooks;
    ///
    /// assert!(AuditHooks::new().is_empty());
    /// ```
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds `hook`, as `sys.addaudithook` does (AUDIT-4).
    ///
    /// The event `sys.addaudithook` (no arguments) is raised first, to the hooks already there.
    /// If one refuses, `hook` is not added; a refusal whose type is an `Exception` is swallowed
    /// (the call returns `Ok`), one that is a `BaseException` but not an `Exception`
    /// (`KeyboardInterrupt`, `SystemExit`, `GeneratorExit`, `BaseExceptionGroup`) is returned.
    /// Hooks can never be removed.
    ///
    /// ```
    /// use thread_audit::{AuditError, AuditHooks};
    ///
    /// let hooks = AuditHooks::new();
    /// // A hook that forbids adding more hooks.
    /// hooks
    ///     .add(|event| match event.name() {
    ///         "sys.addaudithook" => Err(AuditError::new("RuntimeError", "locked down")),
    ///         _ => Ok(()),
    ///     })
    ///     .unwrap();
    /// assert!(hooks.add(|_| Ok(())).is_ok()); // swallowed ...
    /// assert_eq!(hooks.len(), 1); // ... but not added
    /// ```
    pub fn add<H>(&self, hook: H) -> Result<(), AuditError>
    where
        H: Fn(&AuditEvent<'_>) -> Result<(), AuditError> + Send + Sync + 'static,
    {
        match self.audit("sys.addaudithook", &[]) {
            Ok(()) => {
                self.push(Box::new(hook));
                Ok(())
            }
            Err(refusal) if refusal.is_exception() => Ok(()),
            Err(refusal) => Err(refusal),
        }
    }

    /// Raises `event` with `args` (`sys.audit`): calls every hook that was there when the call
    /// began, in the order they were added, and returns the first refusal, skipping the hooks
    /// after it. The operation being audited must not go ahead when this returns `Err`.
    ///
    /// With no hooks this is one atomic load. A hook that panics refuses with a `RuntimeError`.
    ///
    /// ```
    /// use thread_audit::{AuditArg, AuditError, AuditHooks};
    ///
    /// let hooks = AuditHooks::new();
    /// hooks
    ///     .add(|event| {
    ///         if event.name() == "open" && event.args()[0].downcast_ref::<&str>() == Some(&"/etc/shadow") {
    ///             return Err(AuditError::new("PermissionError", "no"));
    ///         }
    ///         Ok(())
    ///     })
    ///     .unwrap();
    /// assert!(hooks.audit("open", &[&"/tmp/x"]).is_ok());
    /// assert!(hooks.audit("open", &[&"/etc/shadow"]).is_err());
    /// ```
    #[inline]
    pub fn audit(&self, event: &str, args: &[&dyn AuditArg]) -> Result<(), AuditError> {
        // Acquire: pairs with the Release increments in `push`, making the first `n` nodes
        // visible to `run` (see the module docs).
        let n = self.len.load(Ordering::Acquire);
        if n == 0 {
            return Ok(());
        }
        self.run(n, &AuditEvent::new(event, args))
    }

    /// Calls the first `n` hooks with `event`.
    #[inline(never)]
    fn run(&self, n: usize, event: &AuditEvent<'_>) -> Result<(), AuditError> {
        // Relaxed: the Acquire load of `len` in `audit` already made the first `n` links and
        // their nodes visible (module docs).
        let mut node = self.head.load(Ordering::Relaxed);
        for _ in 0..n {
            // SAFETY: `node` is one of the first `n` links, all non-null and published (module
            // docs); nodes are freed only by `Drop`, which cannot run while `&self` is borrowed.
            let current = unsafe { &*node };
            call_hook(&*current.hook, event)?;
            // Relaxed: as for `head` above.
            node = current.next.load(Ordering::Relaxed);
        }
        Ok(())
    }

    /// Appends `hook` at the end of the list, without a lock.
    fn push(&self, hook: Box<HookFn>) {
        let node = Box::into_raw(Box::new(Node {
            hook,
            next: AtomicPtr::new(ptr::null_mut()),
        }));
        let mut link = &self.head;
        loop {
            // Release on success publishes the node's contents to whoever reads this link;
            // Acquire on failure makes the node we step onto readable.
            match link.compare_exchange(ptr::null_mut(), node, Ordering::Release, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(next) => {
                    // SAFETY: a non-null link points to a node that lives until `Drop`, which
                    // cannot run while `&self` is borrowed.
                    link = unsafe { &(*next).next };
                }
            }
        }
        // Release: heads a release sequence that tells `audit` this node (and every node
        // before it, which this thread saw while walking) is linked.
        self.len.fetch_add(1, Ordering::Release);
    }
}

impl Drop for AuditHooks {
    fn drop(&mut self) {
        // `&mut self`: no other thread can read the list any more.
        let mut node = self.head.load(Ordering::Relaxed);
        while !node.is_null() {
            // SAFETY: every node was made by `Box::into_raw` in `push` and is freed exactly once,
            // here; nothing else refers to it now.
            let boxed = unsafe { Box::from_raw(node) };
            node = boxed.next.load(Ordering::Relaxed);
        }
    }
}

/// Calls one hook, turning a panic into a `RuntimeError` refusal.
#[inline]
fn call_hook(hook: &HookFn, event: &AuditEvent<'_>) -> Result<(), AuditError> {
    match catch_unwind(AssertUnwindSafe(|| hook(event))) {
        Ok(result) => result,
        Err(payload) => Err(panic_refusal(payload)),
    }
}

/// The refusal for a hook that panicked with `payload`.
#[cold]
fn panic_refusal(payload: Box<dyn Any + Send>) -> AuditError {
    let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::from("Box<dyn Any>")
    };
    // A payload whose destructor panics must not escape from `audit`; if it does, leak it.
    if let Err(again) = catch_unwind(AssertUnwindSafe(|| drop(payload))) {
        std::mem::forget(again);
    }
    AuditError::new("RuntimeError", format!("audit hook panicked: {message}"))
}

#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use ::loom::sync::Arc;
    use ::loom::thread;
    use std::sync::Mutex;

    /// Two concurrent appends both land, in some order, and an audit after them sees both.
    #[test]
    fn concurrent_adds_both_linked() {
        ::loom::model(|| {
            let hooks = Arc::new(AuditHooks::new());
            let seen = Arc::new(Mutex::new(Vec::new()));
            let mut handles = Vec::new();
            for id in 0..2 {
                let hooks = hooks.clone();
                let seen = seen.clone();
                handles.push(thread::spawn(move || {
                    hooks.push(Box::new(move |_| {
                        seen.lock().unwrap().push(id);
                        Ok(())
                    }));
                }));
            }
            for handle in handles {
                handle.join().unwrap();
            }
            hooks.audit("e", &[]).unwrap();
            let mut seen = seen.lock().unwrap().clone();
            seen.sort();
            assert_eq!(seen, vec![0, 1]);
        });
    }

    /// An audit racing an append calls the hooks that were counted, never a half-linked one.
    #[test]
    fn audit_races_add() {
        ::loom::model(|| {
            let hooks = Arc::new(AuditHooks::new());
            let calls = Arc::new(Mutex::new(0));
            let h = hooks.clone();
            let c = calls.clone();
            let adder = thread::spawn(move || {
                h.push(Box::new(move |_| {
                    *c.lock().unwrap() += 1;
                    Ok(())
                }));
            });
            hooks.audit("e", &[]).unwrap();
            let first = *calls.lock().unwrap();
            assert!(first <= 1);
            adder.join().unwrap();
            hooks.audit("e", &[]).unwrap();
            assert_eq!(*calls.lock().unwrap(), first + 1);
        });
    }
}
