//! Self-tests and pauses: whether a zone may be asked.
//!
//! A zone is tested at start and every `self-test-every` (RFC 5782 section 5: 127.0.0.2
//! listed, 127.0.0.1 not). A refusal code pauses it for `pause`, after which a test decides.
//! Each change of state for the worse is logged and reported once; staying bad is silent.

use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::pending::{Purpose, Query};
use super::wire::{self, Answer, Question};
use super::zone::{self, Outcome, SelfTest, ZoneState};
use super::{status, Dnsbl};
use crate::alert::Event;

impl Dnsbl {
    pub(super) fn start_self_test(&mut self, zone: usize, now_us: i64) {
        self.zones[zone].next_test_us = now_us.saturating_add(self.limits.self_test_every_us);
        let question = |expect_listed| {
            let address = IpAddr::V4(test_address(expect_listed));
            let name = wire::query_name(address, &self.zones[zone].zone);
            Question::new(&name, RecordType::A).map(|question| (address, question))
        };
        let (Some(listed), Some(unlisted)) = (question(true), question(false)) else {
            // The zone was checked at load; a name hickory still refuses is counted, and the
            // zone keeps its state until the next period.
            self.counters.queries_failed += 1;
            return;
        };

        self.zones[zone].test = Some(SelfTest::default());
        for (expect_listed, (address, question)) in [(true, listed), (false, unlisted)] {
            // Counted in the day's total, but always sent: a zone must be able to recover.
            let _ = self.budget.charge_day(now_us);
            let query = Query {
                zone,
                address,
                purpose: Purpose::SelfTest { expect_listed },
                question,
                deadline_us: 0,
                retried: false,
                flows: Vec::new(),
            };
            self.send(query, now_us);
        }
    }

    pub(super) fn record_test(
        &mut self,
        zone: usize,
        expect_listed: bool,
        outcome: Outcome,
        now_us: i64,
        status: &mut Vec<Event>,
    ) {
        let Some(test) = self.zones[zone].test.as_mut() else {
            return;
        };
        test.record(expect_listed, outcome);
        let Some(verdict) = test.verdict() else {
            return;
        };
        self.zones[zone].test = None;
        match verdict {
            Outcome::Pass => self.test_passed(zone),
            Outcome::Fail(reasons) => self.test_failed(zone, &reasons, now_us, status),
            Outcome::Refused(code) => {
                self.counters.self_tests_failed += 1;
                self.pause(zone, code, now_us, status);
            }
        }
    }

    fn test_passed(&mut self, zone: usize) {
        self.counters.self_tests_passed += 1;
        let zone = &mut self.zones[zone];
        if matches!(zone.state, ZoneState::Failed | ZoneState::Paused) {
            crate::info!("dnsbl: {} passed its self-test; lookups resume", zone.shown);
        }
        zone.state = ZoneState::Active;
    }

    fn test_failed(&mut self, zone: usize, reasons: &str, now_us: i64, status: &mut Vec<Event>) {
        self.counters.self_tests_failed += 1;
        let zone = &mut self.zones[zone];
        if zone.state == ZoneState::Failed {
            return;
        }
        zone.state = ZoneState::Failed;
        let every = self.limits.self_test_every_us / 1_000_000;
        let detail = format!("self-test failed ({reasons}); not asked until one passes");
        crate::warn!("dnsbl: {}: {detail} (next test in {every}s)", zone.shown);
        status.push(status::event(
            now_us,
            status::SELF_TEST_FAILED,
            &zone.shown,
            &detail,
        ));
    }

    /// A refusal answer: the zone rests for `pause`, then a self-test decides. Logged and
    /// reported once per pause, however many refusals arrive meanwhile.
    pub(super) fn pause(
        &mut self,
        zone: usize,
        code: Ipv4Addr,
        now_us: i64,
        status: &mut Vec<Event>,
    ) {
        let pause_us = self.limits.pause_us;
        let zone = &mut self.zones[zone];
        zone.next_test_us = now_us.saturating_add(pause_us);
        if zone.state == ZoneState::Paused {
            return;
        }
        zone.state = ZoneState::Paused;
        self.counters.zones_paused += 1;
        let pause = crate::config::format_duration(std::time::Duration::from_micros(
            pause_us.unsigned_abs(),
        ));
        let detail = format!(
            "answer {code}: the resolver was refused (a public resolver or an exceeded \
             quota); paused for {pause}"
        );
        crate::warn!("dnsbl: {}: {detail}", zone.shown);
        status.push(status::event(now_us, status::PAUSED, &zone.shown, &detail));
    }
}

/// 127.0.0.2 must be listed, 127.0.0.1 must not (RFC 5782 section 5).
pub(super) fn test_address(expect_listed: bool) -> Ipv4Addr {
    match expect_listed {
        true => Ipv4Addr::new(127, 0, 0, 2),
        false => Ipv4Addr::new(127, 0, 0, 1),
    }
}

pub(super) fn test_outcome(expect_listed: bool, answer: &Answer) -> Outcome {
    let address = test_address(expect_listed);
    match answer {
        Answer::Codes { codes, .. } => match codes.iter().find(|&&c| zone::is_refusal(c)) {
            Some(&code) => Outcome::Refused(code),
            None if expect_listed => Outcome::Pass,
            None => Outcome::Fail(format!("{address} is listed")),
        },
        Answer::NotListed { .. } if expect_listed => {
            Outcome::Fail(format!("{address} is not listed"))
        }
        Answer::NotListed { .. } => Outcome::Pass,
        Answer::Failure(code) => Outcome::Fail(format!("{address}: {}", rcode_name(*code))),
        Answer::Text { .. } | Answer::Truncated => Outcome::Fail(format!("{address}: no A")),
    }
}

fn rcode_name(code: ResponseCode) -> String {
    code.to_str().to_owned()
}
