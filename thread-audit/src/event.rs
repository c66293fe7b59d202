//! [`AuditArg`] and [`AuditEvent`]: what a hook is shown.

use std::any::Any;
use std::fmt::Debug;

/// An argument of an audit event.
///
/// Every `'static` value that is `Debug + Send + Sync` is one, through the blanket impl:
/// integers, `bool`, `&'static str`, `String`, `()`, `Option<T>`, and an embedder's own types.
/// A hook finds the concrete type again with [`downcast_ref`](trait.AuditArg.html#method.downcast_ref).
///
/// ```
/// use thread_audit::AuditArg;
///
/// let args: [&dyn AuditArg; 3] = [&7i32, &"name", &None::<()>];
/// assert_eq!(args[0].downcast_ref::<i32>(), Some(&7));
/// assert_eq!(args[1].downcast_ref::<&str>(), Some(&"name"));
/// assert!(args[2].is::<Option<()>>());
/// assert_eq!(format!("{:?}", args[1]), "\"name\"");
/// ```
pub trait AuditArg: Any + Debug + Send + Sync {}

impl<T: Any + Debug + Send + Sync> AuditArg for T {}

impl dyn AuditArg {
    /// This argument as `&dyn Any`.
    ///
    /// ```
    /// use thread_audit::AuditArg;
    ///
    /// let arg: &dyn AuditArg = &1u8;
    /// assert!(arg.as_any().is::<u8>());
    /// ```
    pub fn as_any(&self) -> &dyn Any {
        // Trait upcasting: `Any` is a supertrait, so the vtable leads to the concrete type's
        // `type_id`, never to that of a reference to it.
        self
    }

    /// Whether the argument's concrete type is `T`.
    ///
    /// ```
    /// use thread_audit::AuditArg;
    ///
    /// let arg: &dyn AuditArg = &String::from("x");
    /// assert!(arg.is::<String>());
    /// assert!(!arg.is::<&str>());
    /// ```
    pub fn is<T: Any>(&self) -> bool {
        self.as_any().is::<T>()
    }

    /// The argument as a `T`, if that is its concrete type.
    ///
    /// ```
    /// use thread_audit::AuditArg;
    ///
    /// let arg: &dyn AuditArg = &42u64;
    /// assert_eq!(arg.downcast_ref::<u64>(), Some(&42));
    /// assert_eq!(arg.downcast_ref::<i64>(), None);
    /// ```
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        self.as_any().downcast_ref::<T>()
    }
}

/// One audit event as a hook sees it: its name and its arguments.
///
/// ```
/// use thread_audit::{AuditArg, AuditEvent};
///
/// let args: [&dyn AuditArg; 1] = [&5i32];
/// let event = AuditEvent::new("my.event", &args);
/// assert_eq!(event.name(), "my.event");
/// assert_eq!(event.args()[0].downcast_ref::<i32>(), Some(&5));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct AuditEvent<'a> {
    name: &'a str,
    args: &'a [&'a dyn AuditArg],
}

impl<'a> AuditEvent<'a> {
    /// An event named `name` with `args`.
    ///
    /// ```
    /// use thread_audit::AuditEvent;
    ///
    /// let event = AuditEvent::new("sys.addaudithook", &[]);
    /// assert!(event.args().is_empty());
    /// ```
    pub fn new(name: &'a str, args: &'a [&'a dyn AuditArg]) -> Self {
        AuditEvent { name, args }
    }

    /// The event's name, for example `"_thread.start_new_thread"`.
    ///
    /// ```
    /// use thread_audit::AuditEvent;
    ///
    /// assert_eq!(AuditEvent::new("a.b", &[]).name(), "a.b");
    /// ```
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The event's arguments, in order.
    ///
    /// ```
    /// use thread_audit::{AuditArg, AuditEvent};
    ///
    /// let args: [&dyn AuditArg; 2] = [&1i32, &()];
    /// assert_eq!(AuditEvent::new("a.b", &args).args().len(), 2);
    /// ```
    pub fn args(&self) -> &'a [&'a dyn AuditArg] {
        self.args
    }
}
