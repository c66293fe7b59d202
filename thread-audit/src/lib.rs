//! PEP 578 audit hooks (`sys.addaudithook`, `sys.audit`) for pythread.
//!
//! Work in progress: the registry lands with issue 3.
