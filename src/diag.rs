//! Diagnostics for the operator, on standard error (journald captures it under systemd).
//!
//! Levels follow consequence: `error` means data was lost or someone must act, `warn` is
//! unexpected but handled, `info` is lifecycle (start, reload, stop). Nothing is written per
//! flow; per-event counts go in the periodic stats line instead. A failed write to stderr
//! (a closed terminal) is ignored rather than allowed to stop the service.

/// Writes one diagnostic line; use the `error!`, `warn!` and `info!` macros.
pub fn write(level: &str, args: std::fmt::Arguments<'_>) {
    use std::io::Write;

    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "flowalert: {level}{args}");
}

#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::diag::write("error: ", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::diag::write("warning: ", format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::diag::write("", format_args!($($arg)*)) };
}
