//! What the DNSBL lookups did, for the stats line. Every skip, drop and failure has its own
//! counter; the names in `fields()` are the struct's, so the two cannot drift apart.

macro_rules! counters {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Totals since start, over all zones. A lookup is one (address, zone) pair.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct DnsblCounters {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl DnsblCounters {
            pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$((stringify!($name), self.$name),)*].into_iter()
            }
        }
    };
}

counters! {
    /// (address, zone) pairs asked about through `consider`.
    lookups,
    /// Lookups answered from the cache: listed (each gives a hit) ...
    cache_listed,
    /// ... not listed (or only ignored codes) ...
    cache_not_listed,
    /// ... or failed recently (no query until the error TTL has passed).
    cache_failed,
    /// Lookups that joined a query already pending for the same address and zone.
    joined,
    /// Flows not kept because the pending query already had as many as it holds.
    join_dropped,
    /// Lookups skipped because the zone is paused, failed its self-test or is untested.
    skipped_zone_down,
    /// Lookups skipped because the pending table was full.
    skipped_pending_full,
    /// Lookups skipped because the per-second budget was spent.
    skipped_rate,
    /// Lookups skipped because the daily cap was reached.
    skipped_daily_cap,
    /// Datagrams sent: lookups, TXT follow-ups, retries and self-tests.
    queries_sent,
    /// TXT follow-ups sent for listed addresses (also in queries_sent).
    txt_queries,
    /// Attempts that went unanswered for `timeout` (each try counts).
    timeouts,
    /// Timed-out queries sent again (once each).
    retries,
    /// Queries that got no usable answer at all (timeouts after the retry, send failures).
    queries_failed,
    /// Datagrams the socket refused to send.
    send_errors,
    /// Receive errors other than would-block (an ICMP port unreachable, for one).
    receive_errors,
    /// Replies that are not DNS messages (cut short, bad names or counts) or not responses.
    replies_malformed,
    /// Replies whose id matches no pending query (late, duplicated or forged).
    replies_unknown_id,
    /// Replies with a known id but another question (name, type or class).
    replies_wrong_question,
    /// Replies with the TC bit set: the query fails (DNSBL answers always fit in UDP).
    replies_truncated,
    /// Lookup answers with a code in a `listed` range.
    answers_listed,
    /// NXDOMAIN, or NOERROR without an A record.
    answers_not_listed,
    /// Answers whose codes are all in `ignore` ranges.
    answers_ignored,
    /// Answers in 127.0.0.0/8 that no range names: not alerted.
    answers_unknown_code,
    /// SERVFAIL, REFUSED and other response codes.
    answers_failed,
    /// Answers in 127.255.255.0/24 or outside 127.0.0.0/8: the resolver was refused.
    answers_refused,
    /// TXT follow-ups that gave no URL (failure, timeout, no budget): refs=- then.
    txt_failed,
    /// Hits handed to the alerter (one per flow and zone).
    hits,
    /// Cache entries evicted to make room before they expired.
    cache_evictions,
    /// Self-tests passed (a zone becomes or stays active).
    self_tests_passed,
    /// Self-tests failed (the zone is disabled until one passes).
    self_tests_failed,
    /// Times a zone was paused after a refusal answer.
    zones_paused,
}
