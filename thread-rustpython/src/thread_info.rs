//! A truthful `sys.thread_info` for RustPython on pythread.
//!
//! RustPython's `sys.thread_info` is a constant (`("pthread", "mutex+cond", None)`) that
//! describes its own locks. With pythread, threads are glibc's pthreads and a lock is a futex
//! word: `name` stays `"pthread"`, `lock` is `"futex"`, and `version` is the thread library's
//! version as CPython reports it (`confstr(_CS_GNU_LIBPTHREAD_VERSION)`, e.g. `"NPTL 2.35"`).
//! CPython's `test_threadsignals` reads the two fields to decide whether lock waits can be
//! interrupted; with pythread they can.

use rustpython_vm::{AsObject, PyResult, VirtualMachine};

/// glibc's `_CS_GNU_LIBPTHREAD_VERSION`.
const CS_GNU_LIBPTHREAD_VERSION: libc::c_int = 3;

/// The thread library's name and version, as `confstr` reports it; `None` if it does not.
fn pthread_version() -> Option<String> {
    let mut buffer = [0u8; 64];
    // SAFETY: `buffer` is writable for its length; confstr writes at most that many bytes,
    // NUL-terminated.
    let needed = unsafe {
        libc::confstr(
            CS_GNU_LIBPTHREAD_VERSION,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    if needed == 0 || needed > buffer.len() {
        return None;
    }
    let text = std::ffi::CStr::from_bytes_until_nul(&buffer).ok()?;
    Some(text.to_string_lossy().into_owned())
}

/// Replaces `sys.thread_info` with one that describes pythread.
pub(crate) fn install(vm: &VirtualMachine) -> PyResult<()> {
    let sys = vm.sys_module.as_object();
    let current = sys.get_attr("thread_info", vm)?;
    let version = match pthread_version() {
        Some(version) => vm.ctx.new_str(version).into(),
        None => vm.ctx.none(),
    };
    let fields = vm.ctx.new_tuple(vec![
        vm.ctx.new_str("pthread").into(),
        vm.ctx.new_str("futex").into(),
        version,
    ]);
    let info = current.class().as_object().call((fields,), vm)?;
    sys.set_attr("thread_info", info, vm)
}
