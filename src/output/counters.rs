//! What the sinks did: per sink, and summed for the stats line.
//!
//! Every record handed to a sink ends in exactly one of `written` or `dropped`, except the
//! ones still queued, so `written + dropped + queued` always equals what the sink was given.

/// One sink's record of what happened to what it was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkCounters {
    /// Records handed to the kernel (file, socket) whole.
    pub written: u64,
    /// Records given up on: socket full or absent, queue full, write failed.
    pub dropped: u64,
    /// Failed writes, connects and opens (a dropped record may count here too).
    pub errors: u64,
    /// Connections made (TCP) or sockets reached (`/dev/log`).
    pub connects: u64,
}

/// The sums over every sink, and the records the outputs were given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutputCounters {
    /// Events passed to `Outputs::write`.
    pub records: u64,
    pub written: u64,
    pub dropped: u64,
    pub errors: u64,
    pub connects: u64,
}

impl OutputCounters {
    /// Every counter with its stats-line name.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("output-records", self.records),
            ("sink-written", self.written),
            ("sink-dropped", self.dropped),
            ("sink-errors", self.errors),
            ("sink-connects", self.connects),
        ]
        .into_iter()
    }

    pub(crate) fn add(&mut self, sink: &SinkCounters) {
        self.written += sink.written;
        self.dropped += sink.dropped;
        self.errors += sink.errors;
        self.connects += sink.connects;
    }
}
