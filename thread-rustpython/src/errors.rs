//! thread-lock's and thread-core's errors as RustPython exceptions: the class `python_type()`
//! names (a builtin), with CPython's message; an interrupted wait re-raises the handler's own
//! exception object (see [`crate::wait`]).

use rustpython_vm::builtins::{PyBaseExceptionRef, PyType};
use rustpython_vm::{AsObject, VirtualMachine};
use thread_core::ThreadError;
use thread_lock::LockError;

/// The builtin exception `python_type` names, raised with `message`.
pub(crate) fn python_error(
    vm: &VirtualMachine,
    python_type: &str,
    message: String,
) -> PyBaseExceptionRef {
    let class = vm
        .builtins
        .as_object()
        .get_attr(&vm.ctx.new_str(python_type), vm)
        .ok()
        .and_then(|class| class.downcast::<PyType>().ok());
    match class {
        Some(class) => vm.new_exception_msg(class, message.into()),
        None => vm.new_runtime_error(message),
    }
}

/// A lock error as CPython raises it.
pub(crate) fn lock_error(vm: &VirtualMachine, error: LockError) -> PyBaseExceptionRef {
    if let LockError::Interrupted(_) = &error
        && let Some(raised) = crate::wait::take_interrupt_error()
    {
        return raised;
    }
    python_error(vm, error.python_type(), error.to_string())
}

/// A thread error as CPython raises it.
#[allow(dead_code)]
pub(crate) fn thread_error(vm: &VirtualMachine, error: ThreadError) -> PyBaseExceptionRef {
    python_error(vm, error.python_type(), error.to_string())
}
