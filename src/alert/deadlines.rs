//! Window ends in the order they fall due.
//!
//! Windows open as flows arrive and all last the same time, so their ends nearly always
//! arrive in order: those go to the back of a queue. The few that do not (a sweep peer
//! whose window ends with its listed address's, a capture whose clock steps back) go to a
//! small ordered map. The earliest end is at the front of one or the other. Ends are only
//! ever taken from the front, so neither holds one that is no longer wanted.

use std::collections::{BTreeMap, VecDeque};

/// A window's end (µs) and a sequence number that makes it unique.
pub type Deadline = (i64, u64);

#[derive(Debug)]
pub struct Deadlines<K> {
    in_order: VecDeque<(Deadline, K)>,
    out_of_order: BTreeMap<Deadline, K>,
}

impl<K: Copy> Deadlines<K> {
    pub fn new() -> Deadlines<K> {
        Deadlines {
            in_order: VecDeque::new(),
            out_of_order: BTreeMap::new(),
        }
    }

    pub fn insert(&mut self, deadline: Deadline, key: K) {
        match self.in_order.back() {
            Some(&(last, _)) if last > deadline => {
                self.out_of_order.insert(deadline, key);
            }
            _ => self.in_order.push_back((deadline, key)),
        }
    }

    /// The earliest end and its key.
    pub fn first(&self) -> Option<(Deadline, K)> {
        let queued = self.in_order.front().copied();
        let late = self.out_of_order.first_key_value().map(|(&d, &k)| (d, k));
        match (queued, late) {
            (Some(q), Some(l)) => Some(if l.0 < q.0 { l } else { q }),
            (q, l) => q.or(l),
        }
    }

    /// Takes the earliest end away, if it is `deadline`.
    pub fn remove_first(&mut self, deadline: Deadline) {
        if self.in_order.front().is_some_and(|&(d, _)| d == deadline) {
            self.in_order.pop_front();
        } else {
            self.out_of_order.remove(&deadline);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.in_order.len() + self.out_of_order.len()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Copy> Default for Deadlines<K> {
    fn default() -> Deadlines<K> {
        Deadlines::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_come_out_earliest_first_whatever_order_they_went_in() {
        let mut deadlines = Deadlines::new();
        for (at, end) in [50, 60, 40, 70, 55, 70, 10].into_iter().enumerate() {
            deadlines.insert((end, at as u64), at);
        }
        assert_eq!(deadlines.out_of_order.len(), 3);
        let mut order = Vec::new();
        while let Some((deadline, key)) = deadlines.first() {
            deadlines.remove_first(deadline);
            order.push((deadline.0, key));
        }
        assert_eq!(
            order,
            [
                (10, 6),
                (40, 2),
                (50, 0),
                (55, 4),
                (60, 1),
                (70, 3),
                (70, 5)
            ]
        );
        assert!(deadlines.is_empty());
    }

    #[test]
    fn a_clock_that_steps_back_keeps_both_orders() {
        let mut deadlines = Deadlines::new();
        deadlines.insert((1_000, 1), 'a');
        deadlines.insert((100, 2), 'b');
        deadlines.insert((1_100, 3), 'c');
        deadlines.insert((200, 4), 'd');
        assert_eq!(deadlines.first(), Some(((100, 2), 'b')));
        deadlines.remove_first((100, 2));
        assert_eq!(deadlines.first(), Some(((200, 4), 'd')));
        deadlines.remove_first((200, 4));
        assert_eq!(deadlines.first(), Some(((1_000, 1), 'a')));
        assert_eq!(deadlines.len(), 2);
    }
}
