//! The transcript as the TUI keeps it: every entry, plus running row totals so that finding
//! the entry at a screen row is a binary search. Drawing a frame then costs the same with a
//! hundred entries as with a million.

use crate::engine::transcript::{Entry, EntryKind};

/// Entries with their row offsets and the index of every entry that has a diagnosis.
#[derive(Debug, Default, Clone)]
pub struct Store {
    entries: Vec<Entry>,
    /// `ends[i]`: rows taken by entries `0..=i`.
    ends: Vec<u64>,
    /// Entries the diagnosis panel can explain (replies, warnings, errors and the message
    /// sent), in order.
    marks: Vec<usize>,
    /// The latest entry that carries a certificate chain (TLS started, or a TLS error).
    last_chain: Option<usize>,
}

/// Rows an entry takes on screen. It depends only on the entry, never on the width: long
/// lines are cut (and scrolled sideways), so the totals never need recomputing.
pub(crate) fn rows_of(entry: &Entry) -> u64 {
    match &entry.kind {
        EntryKind::Reply(r) => r.lines.len().max(1) as u64,
        EntryKind::TlsStarted { info } if !info.chain.is_empty() => 2,
        _ => 1,
    }
}

impl Store {
    pub(crate) fn new() -> Store {
        Store::default()
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        let idx = self.entries.len();
        let total = self.total_rows() + rows_of(&entry);
        match &entry.kind {
            EntryKind::Reply(_) | EntryKind::Warning { .. } | EntryKind::Message { .. } => {
                self.marks.push(idx);
            }
            EntryKind::Error { chain, .. } => {
                self.marks.push(idx);
                if !chain.is_empty() {
                    self.last_chain = Some(idx);
                }
            }
            EntryKind::TlsStarted { .. } => self.last_chain = Some(idx),
            _ => {}
        }
        self.entries.push(entry);
        self.ends.push(total);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn get(&self, idx: usize) -> Option<&Entry> {
        self.entries.get(idx)
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn total_rows(&self) -> u64 {
        self.ends.last().copied().unwrap_or(0)
    }

    /// The first row of entry `idx`.
    pub(crate) fn start_row(&self, idx: usize) -> u64 {
        if idx == 0 {
            0
        } else {
            self.ends
                .get(idx - 1)
                .copied()
                .unwrap_or_else(|| self.total_rows())
        }
    }

    /// The entry shown at `row`, and the row within it.
    pub(crate) fn locate(&self, row: u64) -> Option<(usize, u64)> {
        let idx = self.ends.partition_point(|&end| end <= row);
        (idx < self.entries.len()).then(|| (idx, row - self.start_row(idx)))
    }

    /// The index of the entry with this sequence number (entries are kept in `seq` order).
    pub(crate) fn index_of_seq(&self, seq: u64) -> Option<usize> {
        let idx = self.entries.partition_point(|e| e.seq < seq);
        (self.entries.get(idx)?.seq == seq).then_some(idx)
    }

    pub(crate) fn first_mark(&self) -> Option<usize> {
        self.marks.first().copied()
    }

    pub(crate) fn last_mark(&self) -> Option<usize> {
        self.marks.last().copied()
    }

    /// The explained entry before `idx` (or the last one when `idx` is `None`).
    pub(crate) fn previous_mark(&self, idx: Option<usize>) -> Option<usize> {
        match idx {
            None => self.last_mark(),
            Some(i) => {
                let pos = self.marks.partition_point(|&m| m < i);
                pos.checked_sub(1).map(|p| self.marks[p])
            }
        }
    }

    /// The explained entry after `idx`, if any.
    pub(crate) fn next_mark(&self, idx: usize) -> Option<usize> {
        let pos = self.marks.partition_point(|&m| m <= idx);
        self.marks.get(pos).copied()
    }

    /// Whether entry `idx` has a diagnosis.
    pub(crate) fn is_mark(&self, idx: usize) -> bool {
        self.marks.binary_search(&idx).is_ok()
    }

    pub(crate) fn last_chain(&self) -> Option<&Entry> {
        self.last_chain.and_then(|i| self.entries.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::classify::{Catalog, Context};
    use crate::engine::command::Verb;
    use crate::engine::reply::Reply;
    use crate::engine::transcript::ReplyEntry;
    use chrono::{TimeZone, Utc};

    fn entry(kind: EntryKind) -> Entry {
        Entry {
            seq: 0,
            time: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            tls: false,
            latency_ms: None,
            kind,
        }
    }

    fn reply(lines: &[&str]) -> Entry {
        let r = Reply::from_lines(250, lines);
        let c = Catalog::builtin().classify(&r, &Context::after(Verb::Ehlo));
        entry(EntryKind::Reply(Box::new(ReplyEntry::new(
            r,
            Some(Verb::Ehlo),
            c,
        ))))
    }

    fn info() -> Entry {
        entry(EntryKind::Info { text: "x".into() })
    }

    #[test]
    fn rows_map_to_entries_by_binary_search() {
        let mut s = Store::new();
        s.push(info()); // row 0
        s.push(reply(&["a", "b", "c"])); // rows 1..=3
        s.push(info()); // row 4
        assert_eq!(s.total_rows(), 5);
        assert_eq!(s.locate(0), Some((0, 0)));
        assert_eq!(s.locate(1), Some((1, 0)));
        assert_eq!(s.locate(3), Some((1, 2)));
        assert_eq!(s.locate(4), Some((2, 0)));
        assert_eq!(s.locate(5), None);
        assert_eq!(s.start_row(2), 4);
    }

    #[test]
    fn marks_step_between_replies() {
        let mut s = Store::new();
        s.push(info());
        s.push(reply(&["a"]));
        s.push(info());
        s.push(reply(&["b"]));
        assert_eq!(s.last_mark(), Some(3));
        assert_eq!(s.previous_mark(None), Some(3));
        assert_eq!(s.previous_mark(Some(3)), Some(1));
        assert_eq!(s.previous_mark(Some(1)), None);
        assert_eq!(s.next_mark(1), Some(3));
        assert_eq!(s.next_mark(3), None);
        assert!(s.is_mark(1) && !s.is_mark(2));
    }
}
