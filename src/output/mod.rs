//! Output sinks: file, stdout, syslog (being written).
