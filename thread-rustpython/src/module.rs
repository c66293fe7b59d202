//! The `_thread` module: pythread's objects over RustPython's own `_thread` definition.
//!
//! [`module_def`] builds a module definition named `_thread` whose functions are RustPython's
//! own with pythread's put in their place, and whose exec slot runs RustPython's (its classes
//! and constants) and then pythread's, which replaces `lock`, `LockType`, `RLock`,
//! `_ThreadHandle` and `TIMEOUT_MAX`, registers the interrupt check (see [`crate::wait`]) and puts a truthful
//! `sys.thread_info` in place (see [`crate::thread_info`]).

use std::sync::OnceLock;

use rustpython_vm::builtins::{PyModule, PyModuleDef};
use rustpython_vm::function::PyMethodDef;
use rustpython_vm::{Context, Py, PyResult, VirtualMachine};

/// pythread's own functions and attributes of `_thread`.
#[rustpython_vm::pymodule(name = "_thread")]
pub(crate) mod pythread_thread {
    use rustpython_vm::builtins::PyTypeRef;
    use rustpython_vm::class::PyClassImpl;
    use rustpython_vm::function::OptionalArg;
    use rustpython_vm::{PyObjectRef, PyRef, PyResult, VirtualMachine};

    use crate::lock::PyLock;
    use crate::rlock::PyRLock;
    use crate::spawn::{self, PyThreadHandle};

    #[pyattr(name = "LockType")]
    fn lock_type(_vm: &VirtualMachine) -> PyTypeRef {
        PyLock::make_static_type()
    }

    #[pyattr(name = "lock")]
    fn lock(_vm: &VirtualMachine) -> PyTypeRef {
        PyLock::make_static_type()
    }

    #[pyattr(name = "RLock")]
    fn rlock(_vm: &VirtualMachine) -> PyTypeRef {
        PyRLock::make_static_type()
    }

    #[pyattr(name = "_ThreadHandle")]
    fn thread_handle_type(_vm: &VirtualMachine) -> PyTypeRef {
        PyThreadHandle::make_static_type()
    }

    /// `start_new_thread(function, args, kwargs={})`: starts a thread, returns its ident.
    #[pyfunction]
    fn start_new_thread(
        function: PyObjectRef,
        args: PyObjectRef,
        kwargs: OptionalArg<PyObjectRef>,
        vm: &VirtualMachine,
    ) -> PyResult<u64> {
        spawn::start_new_thread(function, args, kwargs, vm)
    }

    /// `start_joinable_thread(function, handle=None, daemon=True)`: starts a thread, returns its
    /// handle.
    #[pyfunction]
    fn start_joinable_thread(
        args: spawn::JoinableArgs,
        vm: &VirtualMachine,
    ) -> PyResult<PyRef<PyThreadHandle>> {
        spawn::start_joinable_thread(args, vm)
    }

    /// `_make_thread_handle(ident)`: a handle on a thread pythread did not start.
    #[pyfunction]
    fn _make_thread_handle(
        ident: PyObjectRef,
        vm: &VirtualMachine,
    ) -> PyResult<PyRef<PyThreadHandle>> {
        spawn::make_thread_handle(ident, vm)
    }

    /// `_shutdown()`: waits for the non-daemon threads.
    #[pyfunction]
    fn _shutdown(vm: &VirtualMachine) -> PyResult<()> {
        spawn::shutdown(vm)
    }

    #[pyattr]
    const TIMEOUT_MAX: f64 = thread_lock::TIMEOUT_MAX;

    /// `allocate_lock()`: a new, unlocked lock.
    #[pyfunction]
    fn allocate_lock() -> PyLock {
        PyLock::new_unlocked()
    }

    /// `get_ident()`: the calling thread's identifier (`pthread_self`).
    #[pyfunction]
    fn get_ident() -> u64 {
        thread_core::get_ident().as_u64()
    }

    /// `get_native_id()`: the kernel's id of the calling thread.
    #[pyfunction]
    fn get_native_id() -> u64 {
        thread_core::get_native_id()
    }

    /// `interrupt_main(signum=SIGINT)`: simulates the arrival of `signum` in the main thread,
    /// through RustPython's signal machinery, and wakes a main-thread wait (X-INTR-3).
    #[pyfunction]
    fn interrupt_main(signum: OptionalArg<i32>, vm: &VirtualMachine) -> PyResult<()> {
        let signum = signum.unwrap_or(libc::SIGINT);
        if !(1..thread_core::NSIG).contains(&signum) {
            return Err(vm.new_value_error("signal number out of range"));
        }
        // INTR-2's "nothing for SIG_IGN or SIG_DFL" is RustPython's: its trigger runs only a
        // callable handler. (The handler cannot be looked up here: off the main thread
        // RustPython's `signal.getsignal` has no handler table and answers None.) A woken wait
        // whose check runs nothing waits on against its deadline.
        let signal = rustpython_vm::signal::SignalNum::try_from(signum)
            .map_err(|_| vm.new_value_error("signal number out of range"))?;
        rustpython_vm::signal::set_interrupt_ex(signal)?;
        thread_core::signals::notify();
        Ok(())
    }
}

/// RustPython's own `_thread` definition.
fn stock_def(ctx: &Context) -> &'static PyModuleDef {
    rustpython_vm::stdlib::builtin_module_defs(ctx)
        .into_iter()
        .find(|def| def.name.as_str() == "_thread")
        .expect("RustPython built with threading defines `_thread`")
}

/// Runs RustPython's exec slot, then pythread's.
fn exec(vm: &VirtualMachine, module: &Py<PyModule>) -> PyResult<()> {
    stock_def(&vm.ctx).exec_module(vm, module)?;
    pythread_thread::module_exec(vm, module)?;
    crate::wait::install();
    crate::thread_info::install(vm)?;
    Ok(())
}

/// The `_thread` module definition to give `InterpreterBuilder::add_native_module`.
pub(crate) fn module_def(ctx: &Context) -> &'static PyModuleDef {
    static DEF: OnceLock<&'static PyModuleDef> = OnceLock::new();
    DEF.get_or_init(|| {
        let ours = pythread_thread::module_def(ctx);
        let stock = stock_def(ctx);
        let methods: Vec<PyMethodDef> = stock
            .methods
            .iter()
            .filter(|method| ours.methods.iter().all(|own| own.name != method.name))
            .chain(ours.methods.iter())
            .cloned()
            .collect();
        let mut def = PyModuleDef {
            name: stock.name,
            doc: stock.doc,
            methods: Box::leak(methods.into_boxed_slice()),
            slots: Default::default(),
        };
        def.slots.exec = Some(exec);
        Box::leak(Box::new(def))
    })
}
