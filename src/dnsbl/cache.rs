//! Answers kept per (zone, address), each until its own expiry, at most `capacity` of them.
//!
//! Eviction is oldest-inserted first through an order queue. The queue may hold stale keys
//! (entries replaced or expired since); it is compacted when it grows past twice the
//! capacity, so memory stays bounded by the capacity whatever the traffic.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

pub type Key = (usize, IpAddr);

struct Entry<V> {
    value: V,
    expires_us: i64,
    stamp: u64,
}

pub struct Cache<V> {
    entries: HashMap<Key, Entry<V>>,
    order: VecDeque<(Key, u64)>,
    capacity: usize,
    next_stamp: u64,
}

impl<V> Cache<V> {
    pub fn new(capacity: usize) -> Cache<V> {
        Cache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            next_stamp: 0,
        }
    }

    /// The value for `key` if it has not expired by `now_us`; an expired one is dropped.
    pub fn get(&mut self, key: Key, now_us: i64) -> Option<&V> {
        let expired = self.entries.get(&key)?.expires_us <= now_us;
        if expired {
            self.entries.remove(&key);
            return None;
        }
        self.entries.get(&key).map(|entry| &entry.value)
    }

    /// Keeps `value` until `expires_us`; says how many entries were evicted to make room.
    pub fn insert(&mut self, key: Key, value: V, expires_us: i64) -> u64 {
        let mut evicted = 0;
        if !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity && self.evict_oldest() {
                evicted += 1;
            }
        }

        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let entry = Entry {
            value,
            expires_us,
            stamp,
        };
        self.entries.insert(key, entry);
        self.order.push_back((key, stamp));
        if self.order.len() > 2 * self.capacity {
            self.compact();
        }
        evicted
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn evict_oldest(&mut self) -> bool {
        while let Some((key, stamp)) = self.order.pop_front() {
            let current = self.entries.get(&key).is_some_and(|e| e.stamp == stamp);
            if current {
                self.entries.remove(&key);
                return true;
            }
        }
        false
    }

    fn compact(&mut self) {
        let entries = &self.entries;
        self.order
            .retain(|(key, stamp)| entries.get(key).is_some_and(|e| e.stamp == *stamp));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Key {
        (0, IpAddr::from([192, 0, 2, n]))
    }

    #[test]
    fn entries_expire_at_their_own_time() {
        let mut cache = Cache::new(10);
        cache.insert(key(1), "a", 100);
        cache.insert(key(2), "b", 200);
        assert_eq!(cache.get(key(1), 99), Some(&"a"));
        assert_eq!(cache.get(key(1), 100), None);
        assert_eq!(cache.get(key(2), 150), Some(&"b"));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_oldest_insert_goes_first_when_full() {
        let mut cache = Cache::new(2);
        assert_eq!(cache.insert(key(1), 1, 1000), 0);
        assert_eq!(cache.insert(key(2), 2, 1000), 0);
        assert_eq!(
            cache.insert(key(1), 11, 1000),
            0,
            "replacing does not evict"
        );
        assert_eq!(cache.insert(key(3), 3, 1000), 1);
        assert_eq!(cache.get(key(2), 0), None, "2 was the oldest live insert");
        assert_eq!(cache.get(key(1), 0), Some(&11));
        assert_eq!(cache.get(key(3), 0), Some(&3));
    }

    #[test]
    fn the_order_queue_stays_bounded_under_rewrites() {
        let mut cache = Cache::new(4);
        for round in 0..1000 {
            cache.insert(key(1), round, 10_000);
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.order.len() <= 8, "{}", cache.order.len());
    }
}
