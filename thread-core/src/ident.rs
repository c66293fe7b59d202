//! Thread identifiers: [`Ident`] (`pthread_self()`, CORE-2), the kernel's thread id (CORE-3) and
//! the main thread (CORE-9), kept right across `fork`.
//!
//! On x86-64 Linux the ident is read from the thread control block, one load; elsewhere, and for
//! the kernel id everywhere, the value is cached in a `const`-initialised thread-local without a
//! destructor, so a read compiles to one TLS load and a branch, and the first read on a thread
//! asks the OS once.
//!
//! The main thread is recorded by a load-time constructor placed in `.init_array`: for an
//! executable that is the process's main thread, for a library loaded with `dlopen` the loading
//! thread. The same constructor registers a `pthread_atfork` child handler that makes the forking
//! thread the main thread of the child, forgets its cached kernel id (the child has a new one)
//! and advances the fork generation (which tells handles that their threads are gone, FORK-3).

use std::cell::Cell;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::ThreadError;

/// A thread's identifier: CPython's `get_ident()`, the value of `pthread_self()`.
///
/// Non-zero, stable for the life of the thread, unique among live threads; it may be reused once
/// a thread has exited. `Display` prints the number.
///
/// ```
/// let me = thread_core::get_ident();
/// assert_eq!(thread_core::Ident::from_u64(me.as_u64()), Some(me));
/// assert_eq!(me.to_string(), me.as_u64().to_string());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Ident(NonZeroU64);

impl Ident {
    /// Rebuilds an ident from its number (for bindings); `None` for 0.
    ///
    /// ```
    /// assert!(thread_core::Ident::from_u64(0).is_none());
    /// assert_eq!(thread_core::Ident::from_u64(7).unwrap().as_u64(), 7);
    /// ```
    #[inline]
    pub const fn from_u64(value: u64) -> Option<Ident> {
        match NonZeroU64::new(value) {
            Some(v) => Some(Ident(v)),
            None => None,
        }
    }

    /// The number, as CPython's `get_ident()` returns it.
    ///
    /// ```
    /// assert_ne!(thread_core::get_ident().as_u64(), 0);
    /// ```
    #[inline]
    pub const fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The calling thread's [`Ident`] (CPython's `get_ident()`): works on every thread, including
/// threads pythread did not start. One load, never a system call (see [`current_ident`]).
///
/// Under `cfg(loom)` idents come from a loom thread-local counter instead (loom runs every model
/// thread on one OS thread).
///
/// ```
/// let me = thread_core::get_ident();
/// let other = std::thread::spawn(thread_core::get_ident).join().unwrap();
/// assert_ne!(me, other);
/// assert_eq!(me, thread_core::get_ident());
/// ```
#[cfg(not(loom))]
#[inline]
pub fn get_ident() -> Ident {
    current_ident()
}

/// `pthread_self()` where it is the word at the thread pointer. The x86-64 ELF TLS ABI makes the
/// first word of the thread control block, which `%fs` points at, the block's own address, and
/// glibc and musl both put their thread descriptor (what `pthread_self()` returns) at the thread
/// pointer: one load, with no call and no thread-local lookup (which in a shared library, such
/// as thread-py's, is a call to `__tls_get_addr`).
#[cfg(all(
    not(loom),
    target_arch = "x86_64",
    target_os = "linux",
    any(target_env = "gnu", target_env = "musl")
))]
#[inline(always)]
fn current_ident() -> Ident {
    let thread_pointer: u64;
    // SAFETY: on x86-64 Linux every thread's `%fs` base is its thread control block, whose first
    // word the ABI fixes to the block's address. The load writes nothing and touches no stack or
    // flags, and gives the same value for the life of the thread (`pure`: the compiler may merge
    // two loads in one function, which always runs on one thread).
    unsafe {
        std::arch::asm!(
            "mov {}, qword ptr fs:[0]",
            out(reg) thread_pointer,
            options(pure, readonly, nostack, preserves_flags),
        );
    }
    // SAFETY: the control block is a mapped object, so its address is never 0.
    Ident(unsafe { NonZeroU64::new_unchecked(thread_pointer) })
}

/// Elsewhere (aarch64's descriptor, for one, sits at a libc-private offset from the thread
/// pointer) `pthread_self()` is cached in a thread-local on a thread's first call.
#[cfg(all(
    not(loom),
    not(all(
        target_arch = "x86_64",
        target_os = "linux",
        any(target_env = "gnu", target_env = "musl")
    ))
))]
#[inline(always)]
fn current_ident() -> Ident {
    thread_local! {
        /// This thread's `pthread_self()`, 0 until first asked.
        static IDENT: Cell<u64> = const { Cell::new(0) };
    }

    #[cold]
    #[inline(never)]
    fn first_read() -> Ident {
        // SAFETY: `pthread_self` has no preconditions.
        let raw = unsafe { libc::pthread_self() } as u64;
        // glibc's `pthread_self` is the address of the thread's descriptor, never 0.
        let value = NonZeroU64::new(raw).unwrap_or(NonZeroU64::MAX);
        IDENT.set(value.get());
        Ident(value)
    }

    match NonZeroU64::new(IDENT.get()) {
        Some(v) => Ident(v),
        None => first_read(),
    }
}

#[cfg(loom)]
loom::thread_local! {
    static IDENT: Cell<u64> = Cell::new(0);
}

/// Under loom: a counter handed out once per model thread.
#[cfg(loom)]
pub fn get_ident() -> Ident {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let v = IDENT.with(|c| {
        if c.get() == 0 {
            // Relaxed: only uniqueness matters, and a read-modify-write gives that.
            c.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        c.get()
    });
    Ident(NonZeroU64::new(v).unwrap_or(NonZeroU64::MAX))
}

thread_local! {
    /// This thread's kernel id, 0 until first asked (and again in a forked child).
    static NATIVE_ID: Cell<u64> = const { Cell::new(0) };
}

/// The kernel's id for the calling thread (`gettid`); for the main thread it equals the process
/// id (CORE-3). Asked of the kernel once per thread, and again in a forked child.
///
/// ```
/// let main_id = thread_core::get_native_id();
/// let other = std::thread::spawn(thread_core::get_native_id).join().unwrap();
/// assert_ne!(main_id, other);
/// ```
#[inline]
pub fn get_native_id() -> u64 {
    match NATIVE_ID.get() {
        0 => native_id_first_read(),
        v => v,
    }
}

/// [`get_native_id`] asked of the kernel now, without its per-thread cache: for a thread that
/// asks once, such as a new thread filling in its interpreter's thread state. The cache is a
/// thread-local, and in a library loaded with `dlopen` the first thread-local a thread touches
/// makes the C library allocate the library's thread-local block for it.
///
/// ```
/// assert_eq!(thread_core::get_native_id_uncached(), thread_core::get_native_id());
/// ```
pub fn get_native_id_uncached() -> u64 {
    // SAFETY: `gettid` has no preconditions and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u64 }
}

#[cold]
#[inline(never)]
fn native_id_first_read() -> u64 {
    // Referencing the constructor's pointer keeps the linker from dropping it (CORE-9).
    std::hint::black_box(&ON_LOAD);
    // A library whose constructor did not run still gets its fork handler before it caches.
    register_fork_handler();
    let tid = get_native_id_uncached();
    NATIVE_ID.set(tid);
    tid
}

/// `pthread_self()` of the main thread; 0 until recorded.
static MAIN: AtomicU64 = AtomicU64::new(0);
/// Whether an embedder has already named the main thread.
static MAIN_SET: AtomicBool = AtomicBool::new(false);
/// How many forks this process descends from (advanced in each child).
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);
/// The `pthread_self()` of the thread that made the latest fork (0 before any).
static FORKER: AtomicU64 = AtomicU64::new(0);
/// The first generation of the run of forks, up to the latest, that `FORKER`'s ident made.
static FORKER_SINCE: AtomicU64 = AtomicU64::new(0);
/// Whether the `pthread_atfork` handler is registered.
static FORK_HANDLER: AtomicBool = AtomicBool::new(false);

/// Runs when the binary or library is loaded, on the loading thread (CORE-9).
extern "C" fn on_load() {
    // SAFETY: `pthread_self` has no preconditions.
    let me = unsafe { libc::pthread_self() } as u64;
    // Relaxed: nothing else is published with it; readers only compare idents.
    let _ = MAIN.compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed);
    register_fork_handler();
}

/// The load-time constructor; `#[used]` and the reference from [`get_ident`] keep it linked.
#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;

fn register_fork_handler() {
    // Relaxed: the swap only makes sure one caller registers; it publishes nothing.
    if !FORK_HANDLER.swap(true, Ordering::Relaxed) {
        // SAFETY: `after_fork_in_child` is an `extern "C" fn()` valid for the process's life;
        // the other two handlers are null, which `pthread_atfork` allows.
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
    }
}

/// The child side of `fork`: only the forking thread exists, and it runs this. So "the forking
/// thread" is recorded here, at the fork (FORK-3, HANDLE-4), not worked out by whoever asks later.
extern "C" fn after_fork_in_child() {
    NATIVE_ID.set(0);
    // SAFETY: `pthread_self` has no preconditions.
    let me = unsafe { libc::pthread_self() } as u64;
    // Relaxed, all of them: the child has one thread; there is no one to synchronise with.
    MAIN.store(me, Ordering::Relaxed);
    let generation = FORK_GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    if FORKER.swap(me, Ordering::Relaxed) != me {
        FORKER_SINCE.store(generation, Ordering::Relaxed);
    }
    crate::signals::after_fork_in_child();
    crate::spawn::after_fork_in_child();
}

/// The number of forks this process descends from; handles compare it with the one they were
/// made in (FORK-3).
pub(crate) fn fork_generation() -> u64 {
    // Relaxed: only the forking thread changes it, in the child, before any other thread exists.
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Whether a thread known only by its `ident`, alive in fork generation `generation`, is alive in
/// this process: every fork since was made by a thread with that ident (CPython keeps a handle
/// alive in a child when its ident is the forking thread's: `for_thread` handles follow it).
pub(crate) fn survives_forks(generation: u64, ident: Ident) -> bool {
    // Relaxed: as in `fork_generation`.
    generation == fork_generation()
        || (FORKER.load(Ordering::Relaxed) == ident.as_u64()
            && FORKER_SINCE.load(Ordering::Relaxed) <= generation + 1)
}

/// The [`Ident`] of the main thread: the thread that loaded pythread (CORE-9), unless an
/// embedder named another with [`set_main_thread`]; in a forked child, the forking thread.
///
/// ```
/// // Doc tests run on a test harness thread, not on the main thread.
/// let main = thread_core::main_thread_ident();
/// assert_eq!(thread_core::is_main_thread(), main == thread_core::get_ident());
/// ```
pub fn main_thread_ident() -> Ident {
    // Relaxed: the value is a plain identifier that guards no other data.
    match NonZeroU64::new(MAIN.load(Ordering::Relaxed)) {
        Some(v) => Ident(v),
        None => {
            // Only if no constructor ran (a platform without `.init_array`): the first caller.
            let me = get_ident().as_u64();
            match MAIN.compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => Ident::from_u64(me).unwrap_or(Ident(NonZeroU64::MAX)),
                Err(v) => Ident::from_u64(v).unwrap_or(Ident(NonZeroU64::MAX)),
            }
        }
    }
}

/// Whether the calling thread is the main thread: `get_ident() == main_thread_ident()`, two loads.
///
/// ```
/// let here = thread_core::is_main_thread();
/// assert_eq!(here, thread_core::get_ident() == thread_core::main_thread_ident());
/// ```
#[inline]
pub fn is_main_thread() -> bool {
    // Relaxed: see `main_thread_ident`.
    match MAIN.load(Ordering::Relaxed) {
        0 => get_ident() == main_thread_ident(),
        main => get_ident().as_u64() == main,
    }
}

/// Names the calling thread as the main thread, for an embedder that loads pythread on another
/// thread (CORE-9). Allowed once: a second call is refused and changes nothing.
///
/// Under `cfg(loom)` every call succeeds, so each model can name its own main thread.
///
/// ```no_run
/// thread_core::set_main_thread().unwrap();
/// assert!(thread_core::is_main_thread());
/// assert!(thread_core::set_main_thread().is_err());
/// ```
pub fn set_main_thread() -> Result<(), ThreadError> {
    // Relaxed: the flag only arbitrates between callers; the ident itself guards nothing.
    if MAIN_SET.swap(true, Ordering::Relaxed) && !cfg!(loom) {
        return Err(ThreadError::MainThreadAlreadySet);
    }
    MAIN.store(get_ident().as_u64(), Ordering::Relaxed);
    Ok(())
}
