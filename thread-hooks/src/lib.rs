//! How a pythread thread ends: `SystemExit`, uncaught failures and the unraisable hook.
//!
//! Work in progress: the hooks land with issue 4.
