//! Who may open a connection: a cap on all open connections, and a smaller one per client
//! address so one client cannot take every slot. Pure bookkeeping: the listener asks for a
//! ticket per connection and holds it while the connection lives.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken.
    Full,
    /// This client address holds its share already.
    PerClient,
}

impl Refusal {
    pub const fn label(self) -> &'static str {
        match self {
            Refusal::Full => "full",
            Refusal::PerClient => "per_client",
        }
    }
}

#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

pub struct Admissions {
    max_total: usize,
    max_per_client: usize,
    open: Mutex<Open>,
}

/// One admitted connection; dropping it frees its slot.
pub struct Ticket {
    admissions: Arc<Admissions>,
    client: IpAddr,
}

impl Admissions {
    pub fn new(max_total: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(Admissions {
            max_total: max_total.max(1),
            max_per_client: max_per_client.max(1),
            open: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // Plain counters: still right after a panic elsewhere.
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a connection from `client`, or why there is none.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Result<Ticket, Refusal> {
        let mut open = self.lock();
        if open.total >= self.max_total {
            return Err(Refusal::Full);
        }
        let mine = open.by_client.entry(client).or_default();
        if *mine >= self.max_per_client {
            return Err(Refusal::PerClient);
        }
        *mine += 1;
        open.total += 1;
        Ok(Ticket {
            admissions: self.clone(),
            client,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut open = self.admissions.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                // Forget clients with nothing open, so the map stays as small as the open set.
                open.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn one_client_cannot_take_every_slot() {
        let a = Admissions::new(5, 3);
        let mine: Vec<Ticket> = (0..3).map(|_| a.admit(ip(1)).expect("room")).collect();
        assert_eq!(a.admit(ip(1)).err(), Some(Refusal::PerClient));
        let theirs = a.admit(ip(2)).expect("another client still gets in");
        let more = a.admit(ip(3)).expect("room");
        assert_eq!(a.admit(ip(4)).err(), Some(Refusal::Full));
        let from_1 = |a: &Admissions| a.lock().by_client.get(&ip(1)).copied().unwrap_or(0);
        assert_eq!((a.open(), from_1(&a)), (5, 3));
        drop(mine);
        assert_eq!((a.open(), from_1(&a)), (2, 0));
        let again = a.admit(ip(1)).expect("slots come back when connections close");
        drop((theirs, more));
        assert_eq!(a.lock().by_client.len(), 1, "closed clients are forgotten");
        drop(again);
        assert!(a.lock().by_client.is_empty());
    }
}
