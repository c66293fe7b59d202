//! [`UnraisableHookArgs`]: what the unraisable hook is given.

/// The argument of the unraisable hook (`sys.UnraisableHookArgs`).
///
/// For a thread's failure, `err_msg` is `"Exception ignored in thread started by"` and `object`
/// describes the function (`"<function {name}>"`). A panic has `exc_type` `"PanicException"`,
/// its message as `exc_value` and its location (plus a backtrace when `RUST_BACKTRACE` asks)
/// as `exc_traceback`; an `Err(e)` has `std::any::type_name` of `e`'s type, `e`'s `Display`,
/// and no traceback.
///
/// `exc_traceback` holds the traceback's lines without the `Traceback (most recent call
/// last):` header, which the printer adds.
///
/// ```
/// use thread_hooks::UnraisableHookArgs;
///
/// let args = UnraisableHookArgs::new("ValueError", "bad value")
///     .with_err_msg("Exception ignored in thread started by")
///     .with_object("<function worker>");
/// assert_eq!(args.exc_type, "ValueError");
/// assert_eq!(args.exc_traceback, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UnraisableHookArgs {
    /// The failure's type name: `"PanicException"` for a panic, `type_name::<E>()` for an
    /// `Err(E)`, a Python exception name for an embedder's failure.
    pub exc_type: String,
    /// The failure's message.
    pub exc_value: String,
    /// The traceback's lines (no header line), if there is a traceback.
    pub exc_traceback: Option<String>,
    /// The text that opens the report, for example `"Exception ignored in thread started by"`.
    pub err_msg: Option<String>,
    /// A description of the object the failure happened in, for example `"<function worker>"`.
    pub object: Option<String>,
}

impl UnraisableHookArgs {
    /// Arguments with a type and a message, and no traceback, `err_msg` or `object`.
    ///
    /// ```
    /// use thread_hooks::UnraisableHookArgs;
    ///
    /// let args = UnraisableHookArgs::new("OSError", "disk on fire");
    /// assert_eq!(args.exc_value, "disk on fire");
    /// assert_eq!(args.err_msg, None);
    /// ```
    pub fn new(exc_type: impl Into<String>, exc_value: impl Into<String>) -> Self {
        UnraisableHookArgs {
            exc_type: exc_type.into(),
            exc_value: exc_value.into(),
            ..UnraisableHookArgs::default()
        }
    }

    /// Sets `exc_traceback` (the lines after the `Traceback (most recent call last):` header).
    ///
    /// ```
    /// use thread_hooks::UnraisableHookArgs;
    ///
    /// let args = UnraisableHookArgs::new("E", "m").with_traceback("  File \"x.rs\", line 3");
    /// assert!(args.exc_traceback.is_some());
    /// ```
    pub fn with_traceback(mut self, traceback: impl Into<String>) -> Self {
        self.exc_traceback = Some(traceback.into());
        self
    }

    /// Sets `err_msg`.
    ///
    /// ```
    /// use thread_hooks::UnraisableHookArgs;
    ///
    /// let args = UnraisableHookArgs::new("E", "m").with_err_msg("Exception ignored while closing");
    /// assert_eq!(args.err_msg.as_deref(), Some("Exception ignored while closing"));
    /// ```
    pub fn with_err_msg(mut self, err_msg: impl Into<String>) -> Self {
        self.err_msg = Some(err_msg.into());
        self
    }

    /// Sets `object`.
    ///
    /// ```
    /// use thread_hooks::UnraisableHookArgs;
    ///
    /// let args = UnraisableHookArgs::new("E", "m").with_object("<connection 7>");
    /// assert_eq!(args.object.as_deref(), Some("<connection 7>"));
    /// ```
    pub fn with_object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
}
