//! [`AuditHooks`]: a grow-only, lock-free list of hooks.
//!
//! # Implementation details
//!
//! The hooks live in a singly linked list of heap nodes that is only ever appended to while the
//! registry is shared; nodes are freed only by `Drop`, which has `&mut self` and so no readers.
//! Each link goes from null to a node exactly once and never changes again. There is no separate
//! count: the list itself is the only record of which hooks were added, so a hook is "added"
//! at the very moment its link is stored, and no reader can trust a number that lags behind it.
//!
//! * **Append** (`push`): walk from `head` and `compare_exchange` the first null link to the
//!   new node (so concurrent appends serialise on the link, without a lock). The link is stored
//!   with `Release` so that whoever reads the pointer also sees the node's contents; the walk
//!   reads links with `Acquire` for the same reason.
//! * **Read** (`audit`): one `Acquire` load of `head`. Null means no hooks: return (AUDIT-1).
//!   Otherwise walk the links with `Acquire` loads to the last node, and then call the hooks from
//!   the first to that last one. The walk before the first call is the snapshot X-AUDIT-1 asks
//!   for: a hook added while the event runs is linked after the last node and not called.
//!
//! Why a hook whose `add` returned sees every later event, on every thread (AUDIT-2): its
//! `compare_exchange` stored its link, and before that its thread read every earlier link as
//! non-null. An event that happens after `add` returned reads those links again; a load that a
//! store happens-before cannot return a value older than that store (write-read coherence), nor
//! older than a value a happens-before load already read (read-read coherence), and each link
//! only ever goes from null to its node. So the event's walk finds every earlier node and the new
//! one. (An earlier design counted linked nodes in a `len` bumped after the link: with two
//! concurrent adds, the one linked second could bump `len` to 1 and return while the first had
//! not bumped yet, and its own next event ran only the first hook; the loom model
//! `hook_sees_events_after_its_add_returned` caught it.)
//!
//! The second pass of `run` reloads links it already loaded in the first pass of the same call:
//! read-read coherence gives it the same non-null pointers, and the first pass's `Acquire` loads
//! already made the nodes' contents visible, so `Relaxed` is enough there.
//!
//! No lock is held while a hook runs, so a hook may add hooks, raise events or start threads.
//! A hook runs under `catch_unwind`: a panic becomes a `RuntimeError` refusal and nothing is
//! left half-updated (the list is only read while hooks run).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use crate::loom::{AtomicPtr, Ordering};
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
    /// The first node; null while no hook has been added.
    head: AtomicPtr<Node>,
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
        }
    }

    /// An empty registry (loom's atomics cannot be built in a `const fn`).
    #[cfg(loom)]
    pub fn new() -> Self {
        AuditHooks {
            head: AtomicPtr::new(ptr::null_mut()),
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
        !self.head.load(Ordering::Relaxed).is_null()
    }

    /// How many hooks have been added (a snapshot: it walks the list).
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
        let mut count = 0;
        // Acquire: each node is dereferenced to read its `next` link (module docs).
        let mut node = self.head.load(Ordering::Acquire);
        while !node.is_null() {
            count += 1;
            // SAFETY: a non-null link points to a published node that lives until `Drop`, which
            // cannot run while `&self` is borrowed.
            node = unsafe { &*node }.next.load(Ordering::Acquire);
        }
        count
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
        !self.has_hooks()
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
        // Acquire: pairs with the Release link store in `push`, making the first node's contents
        // visible to `run` (module docs). The only atomic access when there is no hook.
        let first = self.head.load(Ordering::Acquire);
        if first.is_null() {
            return Ok(());
        }
        self.run(first, &AuditEvent::new(event, args))
    }

    /// Calls every hook from `first` to the last one linked now, with `event`.
    #[inline(never)]
    fn run(&self, first: *mut Node, event: &AuditEvent<'_>) -> Result<(), AuditError> {
        // The snapshot (X-AUDIT-1): the last node linked before any hook runs.
        let mut last = first;
        loop {
            // Acquire: the next node's contents become visible before it is dereferenced.
            // SAFETY: `last` is non-null and was read with Acquire from a link, so it is a
            // published node; nodes are freed only by `Drop`, which cannot run while `&self` is
            // borrowed.
            let next = unsafe { &*last }.next.load(Ordering::Acquire);
            if next.is_null() {
                break;
            }
            last = next;
        }
        let mut node = first;
        loop {
            // SAFETY: `node` is one of the nodes from `first` to `last`, all visited by the
            // Acquire walk above (module docs); nodes live until `Drop`.
            let current = unsafe { &*node };
            call_hook(&*current.hook, event)?;
            if node == last {
                return Ok(());
            }
            // Relaxed: the walk above already read this non-null link with Acquire; coherence
            // gives us the same pointer (module docs).
            node = current.next.load(Ordering::Relaxed);
        }
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
                Ok(_) => return,
                Err(next) => {
                    // SAFETY: a non-null link points to a node that lives until `Drop`, which
                    // cannot run while `&self` is borrowed.
                    link = unsafe { &(*next).next };
                }
            }
        }
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

    /// AUDIT-2 across concurrent adds: each of two threads adds a hook and then raises an event
    /// on its own thread; its own hook, whose `add` has returned, must see that event (and so
    /// must the other's, if that one's `add` returned before).
    /// proves: AUDIT-2
    #[test]
    fn hook_sees_events_after_its_add_returned() {
        ::loom::model(|| {
            let hooks = Arc::new(AuditHooks::new());
            let seen: Arc<[Mutex<Vec<&'static str>>; 2]> = Arc::new(Default::default());
            let events = ["after add 0", "after add 1"];
            let adders: Vec<_> = (0..2)
                .map(|id| {
                    let hooks = hooks.clone();
                    let seen = seen.clone();
                    thread::spawn(move || {
                        let record = seen.clone();
                        hooks
                            .add(move |event| {
                                if let Some(&name) = events.iter().find(|e| **e == event.name()) {
                                    record[id].lock().unwrap().push(name);
                                }
                                Ok(())
                            })
                            .unwrap();
                        hooks.audit(events[id], &[]).unwrap();
                        assert!(
                            seen[id].lock().unwrap().contains(&events[id]),
                            "hook {id} missed an event raised on its own thread after its add"
                        );
                    })
                })
                .collect();
            for adder in adders {
                adder.join().unwrap();
            }
        });
    }

    /// AUDIT-2 on another thread: once a thread has seen (through a Release/Acquire flag) that
    /// an `add` returned, its events reach that hook, also while a second `add` races the first.
    /// proves: AUDIT-2
    #[test]
    fn hook_sees_later_events_on_other_threads() {
        ::loom::model(|| {
            let hooks = Arc::new(AuditHooks::new());
            let added = Arc::new(::loom::sync::atomic::AtomicBool::new(false));
            let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let other = {
                let hooks = hooks.clone();
                thread::spawn(move || hooks.add(|_| Ok(())).unwrap())
            };
            let adder = {
                let (hooks, added, calls) = (hooks.clone(), added.clone(), calls.clone());
                thread::spawn(move || {
                    hooks
                        .add(move |event| {
                            if event.name() == "later" {
                                calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Ok(())
                        })
                        .unwrap();
                    // Release: the add happens before whatever reads the flag set.
                    added.store(true, Ordering::Release);
                })
            };
            // Acquire: pairs with the adder's Release store.
            if added.load(Ordering::Acquire) {
                hooks.audit("later", &[]).unwrap();
                assert_eq!(
                    calls.load(std::sync::atomic::Ordering::Relaxed),
                    1,
                    "a hook whose add had returned missed an event on another thread"
                );
            }
            other.join().unwrap();
            adder.join().unwrap();
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
