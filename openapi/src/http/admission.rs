//! Who may open a connection: a cap on all open connections, a smaller one per client network
//! (an IPv4 /24 or an IPv6 /64, what one site or one customer of a provider usually holds), and
//! a smaller one still per client address, so one client cannot take every slot, nor one client
//! with many addresses. Pure bookkeeping: the listener asks for a ticket per connection and
//! holds it while the connection lives.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken.
    Full,
    /// This client address holds its share already.
    PerClient,
    /// This client's network (/24, /64) holds its share already.
    PerNetwork,
}

impl Refusal {
    pub const fn label(self) -> &'static str {
        match self {
            Refusal::Full => "full",
            Refusal::PerClient => "per_client",
            Refusal::PerNetwork => "per_network",
        }
    }
}

#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
    by_network: HashMap<IpAddr, usize>,
}

pub struct Admissions {
    max_total: usize,
    max_per_network: usize,
    max_per_client: usize,
    open: Mutex<Open>,
}

/// The network an address counts under: its /24 (IPv4, also as an IPv4-mapped IPv6 address) or
/// its /64 (IPv6).
pub fn network_of(ip: IpAddr) -> IpAddr {
    let v4 = |a: Ipv4Addr| {
        let [a, b, c, _] = a.octets();
        IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
    };
    match ip {
        IpAddr::V4(a) => v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(mapped) => v4(mapped),
            None => {
                let s = a.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Takes one from a count in `map`, forgetting the key at zero so the map stays as small as the
/// open set.
fn release(map: &mut HashMap<IpAddr, usize>, key: IpAddr) {
    if let Some(n) = map.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            map.remove(&key);
        }
    }
}

/// One admitted connection; dropping it frees its slot.
pub struct Ticket {
    admissions: Arc<Admissions>,
    client: IpAddr,
}

impl Admissions {
    pub fn new(max_total: usize, max_per_network: usize, max_per_client: usize) -> Arc<Self> {
        Arc::new(Admissions {
            max_total: max_total.max(1),
            max_per_network: max_per_network.max(1),
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
        if open.by_client.get(&client).is_some_and(|n| *n >= self.max_per_client) {
            return Err(Refusal::PerClient);
        }
        let network = network_of(client);
        if open
            .by_network
            .get(&network)
            .is_some_and(|n| *n >= self.max_per_network)
        {
            return Err(Refusal::PerNetwork);
        }
        *open.by_client.entry(client).or_default() += 1;
        *open.by_network.entry(network).or_default() += 1;
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
        release(&mut open.by_client, self.client);
        release(&mut open.by_network, network_of(self.client));
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
        let a = Admissions::new(5, 5, 3);
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
        assert!(a.lock().by_network.is_empty());
    }

    #[test]
    fn one_network_cannot_take_every_slot() {
        let a = Admissions::new(10, 4, 2);
        let ours: Vec<Ticket> = [1, 1, 2, 3].iter().map(|&n| a.admit(ip(n)).expect("room")).collect();
        assert_eq!(a.admit(ip(4)).err(), Some(Refusal::PerNetwork));
        let elsewhere = a
            .admit(IpAddr::from([127, 0, 1, 1]))
            .expect("another /24 still gets in");
        let v6 = |last: u16| IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, last]);
        let v6_tickets: Vec<Ticket> = (1..=4).map(|n| a.admit(v6(n)).expect("room")).collect();
        assert_eq!(a.admit(v6(5)).err(), Some(Refusal::PerNetwork), "one /64");
        drop((ours, elsewhere, v6_tickets));
        assert!(a.lock().by_network.is_empty());
    }

    #[test]
    fn networks_are_slash_24_and_slash_64() {
        assert_eq!(network_of(ip(77)), IpAddr::from([127, 0, 0, 0]));
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().expect("address");
        assert_eq!(network_of(mapped), IpAddr::from([10, 1, 2, 0]));
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().expect("address");
        assert_eq!(network_of(v6), "2001:db8:1:2::".parse::<IpAddr>().expect("address"));
    }
}
