//! What the decoders counted, per exporter and in total.
//!
//! Every counter only grows and each event is counted once, where it happens. The totals
//! are the sum over every exporter ever seen (expired ones included) plus the datagrams of
//! exporters that could not be tracked (`exporter_limit`).

use super::error::Malformed;

/// One counter per reason. Field docs are the exact meanings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// UDP payloads handed to `decode`, whatever became of them.
    pub datagrams: u64,
    /// NetFlow v5 flow records emitted.
    pub records_v5: u64,
    /// NetFlow v9 data records emitted (options records excluded).
    pub records_v9: u64,
    /// IPFIX data records emitted (options records excluded).
    pub records_ipfix: u64,
    /// Options data records decoded (v9 and IPFIX); they update state and are not emitted.
    pub options_records: u64,
    /// Emitted records that carry no address at all (`FlowRecord::has_address` false).
    pub records_no_address: u64,
    /// Datagrams whose version is not 5, 9 or 10 (v1, v7, sFlow, garbage); dropped.
    pub unsupported_version: u64,
    /// Datagrams dropped because the header is short or its length field is impossible.
    pub malformed_header: u64,
    /// Sets (v9 flowsets) with a length of 0..3 or past the end; the datagram stops there
    /// and the records decoded before it are kept.
    pub malformed_set: u64,
    /// Template records rejected: truncated, id below 256, record length 0, options
    /// template with scope count 0, v9 template without fields.
    pub malformed_template: u64,
    /// Data records with variable-length fields that run past their set; the set stops.
    pub malformed_record: u64,
    /// v5 datagrams whose header count disagrees with the whole records present.
    pub count_mismatch: u64,
    /// New templates refused because the exporter already has `max_per_exporter`.
    pub template_limit: u64,
    /// Datagrams dropped because `max_exporters` exporters are already tracked.
    pub exporter_limit: u64,
    /// Templates defined or redefined (withdrawals excluded).
    pub templates_defined: u64,
    /// Templates removed by an IPFIX withdrawal (each template withdrawn counts once).
    pub templates_withdrawn: u64,
    /// Data sets whose template was not known when the set arrived (each is then held).
    pub sets_no_template: u64,
    /// Data records decoded from held sets once their template arrived (also counted in
    /// `records_v9` / `records_ipfix` / `options_records`).
    pub held_records_decoded: u64,
    /// Held sets dropped because no template came within `hold_time_ms`.
    pub held_sets_expired: u64,
    /// Held sets dropped (oldest first) to keep held bytes within `hold_bytes`, or too big
    /// to hold at all. Counted as sets: without a template their records cannot be counted.
    pub held_sets_dropped_space: u64,
    /// Missing export units between consecutive messages of one exporter and domain: v5 and
    /// IPFIX count flow records, v9 counts datagrams. The first message is no gap; a
    /// sequence going backwards (reorder, restart) resets the expectation without a count.
    pub sequence_gaps: u64,
    /// Times an exporter was seen to restart (v9 sysUpTime backwards, IPFIX sequence
    /// reset) while it still had restored templates; those templates are dropped.
    pub exporter_restarts: u64,
}

impl Counters {
    /// Every counter with its name, in declaration order.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, u64)> {
        [
            ("datagrams", self.datagrams),
            ("records_v5", self.records_v5),
            ("records_v9", self.records_v9),
            ("records_ipfix", self.records_ipfix),
            ("options_records", self.options_records),
            ("records_no_address", self.records_no_address),
            ("unsupported_version", self.unsupported_version),
            ("malformed_header", self.malformed_header),
            ("malformed_set", self.malformed_set),
            ("malformed_template", self.malformed_template),
            ("malformed_record", self.malformed_record),
            ("count_mismatch", self.count_mismatch),
            ("template_limit", self.template_limit),
            ("exporter_limit", self.exporter_limit),
            ("templates_defined", self.templates_defined),
            ("templates_withdrawn", self.templates_withdrawn),
            ("sets_no_template", self.sets_no_template),
            ("held_records_decoded", self.held_records_decoded),
            ("held_sets_expired", self.held_sets_expired),
            ("held_sets_dropped_space", self.held_sets_dropped_space),
            ("sequence_gaps", self.sequence_gaps),
            ("exporter_restarts", self.exporter_restarts),
        ]
        .into_iter()
    }

    /// Counts one malformed input of `kind`.
    pub fn malformed(&mut self, kind: Malformed) {
        match kind {
            Malformed::Header => self.malformed_header += 1,
            Malformed::Set => self.malformed_set += 1,
            Malformed::Template => self.malformed_template += 1,
            Malformed::Record => self.malformed_record += 1,
        }
    }

    /// Counts `n` emitted data records of export `version`.
    pub fn records(&mut self, version: u16, n: u64) {
        match version {
            5 => self.records_v5 += n,
            9 => self.records_v9 += n,
            _ => self.records_ipfix += n,
        }
    }

    /// Adds every counter of `other` to this one.
    pub fn add(&mut self, o: &Counters) {
        self.datagrams += o.datagrams;
        self.records_v5 += o.records_v5;
        self.records_v9 += o.records_v9;
        self.records_ipfix += o.records_ipfix;
        self.options_records += o.options_records;
        self.records_no_address += o.records_no_address;
        self.unsupported_version += o.unsupported_version;
        self.malformed_header += o.malformed_header;
        self.malformed_set += o.malformed_set;
        self.malformed_template += o.malformed_template;
        self.malformed_record += o.malformed_record;
        self.count_mismatch += o.count_mismatch;
        self.template_limit += o.template_limit;
        self.exporter_limit += o.exporter_limit;
        self.templates_defined += o.templates_defined;
        self.templates_withdrawn += o.templates_withdrawn;
        self.sets_no_template += o.sets_no_template;
        self.held_records_decoded += o.held_records_decoded;
        self.held_sets_expired += o.held_sets_expired;
        self.held_sets_dropped_space += o.held_sets_dropped_space;
        self.sequence_gaps += o.sequence_gaps;
        self.exporter_restarts += o.exporter_restarts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_sums_every_field_and_fields_names_them() {
        let mut a = Counters {
            datagrams: 2,
            sequence_gaps: 5,
            ..Counters::default()
        };
        let b = Counters {
            datagrams: 1,
            exporter_restarts: 7,
            ..Counters::default()
        };
        a.add(&b);
        let all: Vec<_> = a.fields().collect();
        assert_eq!(all.len(), 22);
        assert_eq!(all[0], ("datagrams", 3));
        assert_eq!(all[20], ("sequence_gaps", 5));
        assert_eq!(all[21], ("exporter_restarts", 7));
    }
}
