//! Track IDs reserved in blocks ahead of use, for sources whose numbering must survive a crash.
//!
//! A live source started again numbers its tracks after those it used before. Its stored
//! detections alone cannot say which those were: a killed process loses its last unflushed
//! writes, while events and API answers may already have shown those tracks' IDs. So the highest
//! ID the tracker may hand out is kept durably, a block ahead: an ID leaves the renderer only
//! once it is covered, and a source started again begins after the reserved mark. IDs skipped
//! that way are never used; that gap is the price of one durable write per block.

/// IDs reserved per durable write: a busy street starts a few tracks a second, so this is about
/// one store flush every quarter of a minute or more.
pub const BLOCK: u64 = 64;

/// The highest track ID reserved so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdReservation {
    reserved: u64,
}

impl IdReservation {
    /// Starts from the mark a previous run stored (0: none).
    pub fn new(reserved: u64) -> Self {
        Self { reserved }
    }

    /// The mark to store before IDs up to `issued` may be used, or `None` when they are covered.
    /// Once the caller has stored it, [`IdReservation::stored`] records it.
    pub fn needed_for(&self, issued: u64) -> Option<u64> {
        (issued > self.reserved).then(|| issued.saturating_add(BLOCK))
    }

    pub fn stored(&mut self, mark: u64) {
        self.reserved = self.reserved.max(mark);
    }

    pub fn reserved(&self) -> u64 {
        self.reserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_reserved_only_when_issued_ids_pass_the_mark() {
        let mut ids = IdReservation::new(0);
        assert_eq!(ids.needed_for(0), None, "no ID issued yet");
        assert_eq!(ids.needed_for(1), Some(1 + BLOCK));
        ids.stored(1 + BLOCK);
        assert_eq!(ids.needed_for(BLOCK), None);
        assert_eq!(ids.needed_for(1 + BLOCK), None);
        // Several IDs at once (a crowded frame) that pass the mark: the new block covers them all.
        assert_eq!(ids.needed_for(BLOCK + 5), Some(2 * BLOCK + 5));
    }

    #[test]
    fn a_stored_mark_never_goes_back() {
        let mut ids = IdReservation::new(200);
        ids.stored(100);
        assert_eq!(ids.reserved(), 200);
        assert_eq!(ids.needed_for(u64::MAX), Some(u64::MAX));
    }
}
