//! Queries waiting for an answer, by id and by (zone, address), with their deadlines.
//!
//! Deadlines are kept in send order; with one timeout for all queries that is also deadline
//! order. An entry whose query was answered stays in the queue until its time and is then
//! skipped, so the queue is bounded by the queries sent in one timeout.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use super::cache::Key;
use super::wire::Question;
use crate::flow::FlowRecord;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// The A query of a lookup.
    Lookup,
    /// The TXT follow-up for a listed address: the A answer's reading and cache lifetime.
    Txt { names: String, ttl_us: i64 },
    /// One half of a self-test.
    SelfTest { expect_listed: bool },
}

#[derive(Debug)]
pub struct Query {
    pub zone: usize,
    pub address: IpAddr,
    pub purpose: Purpose,
    pub question: Question,
    pub deadline_us: i64,
    pub retried: bool,
    /// The flows waiting for this answer (none for a self-test).
    pub flows: Vec<FlowRecord>,
}

impl Query {
    fn key(&self) -> Option<Key> {
        match self.purpose {
            Purpose::SelfTest { .. } => None,
            _ => Some((self.zone, self.address)),
        }
    }
}

#[derive(Default)]
pub struct Pending {
    by_id: HashMap<u16, Query>,
    by_key: HashMap<Key, u16>,
    deadlines: VecDeque<(i64, u16)>,
}

impl Pending {
    pub fn insert(&mut self, id: u16, query: Query) {
        if let Some(key) = query.key() {
            self.by_key.insert(key, id);
        }
        self.deadlines.push_back((query.deadline_us, id));
        self.by_id.insert(id, query);
    }

    pub fn contains(&self, id: u16) -> bool {
        self.by_id.contains_key(&id)
    }

    pub fn get(&self, id: u16) -> Option<&Query> {
        self.by_id.get(&id)
    }

    /// The lookup (or its TXT follow-up) in flight for `key`, to join.
    pub fn for_key(&mut self, key: Key) -> Option<&mut Query> {
        let id = self.by_key.get(&key)?;
        self.by_id.get_mut(id)
    }

    pub fn remove(&mut self, id: u16) -> Option<Query> {
        let query = self.by_id.remove(&id)?;
        if let Some(key) = query.key() {
            if self.by_key.get(&key) == Some(&id) {
                self.by_key.remove(&key);
            }
        }
        Some(query)
    }

    /// Lookups and TXT follow-ups in flight (self-tests are not counted against the cap).
    pub fn lookups(&self) -> usize {
        self.by_key.len()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// The earliest deadline queued; it may belong to a query answered since, which costs
    /// one early wake-up at most.
    pub fn next_deadline(&self) -> Option<i64> {
        self.deadlines.front().map(|&(deadline, _)| deadline)
    }

    /// The next query whose deadline has passed by `now_us`, taken out of the table.
    pub fn pop_expired(&mut self, now_us: i64) -> Option<Query> {
        while let Some(&(deadline, id)) = self.deadlines.front() {
            if deadline > now_us {
                return None;
            }
            self.deadlines.pop_front();
            let live = self
                .by_id
                .get(&id)
                .is_some_and(|q| q.deadline_us == deadline);
            if live {
                return self.remove(id);
            }
        }
        None
    }

    /// Drops queue entries at the front that belong to answered queries.
    pub fn trim(&mut self) {
        while let Some(&(deadline, id)) = self.deadlines.front() {
            let live = self
                .by_id
                .get(&id)
                .is_some_and(|q| q.deadline_us == deadline);
            if live {
                return;
            }
            self.deadlines.pop_front();
        }
    }
}
