//! Connections per source: one source (an IPv4 address, an IPv6 /64) may
//! hold at most so many of the frontend's connections, so it cannot take
//! every slot of the global cap from everyone else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::auth::unknown_keys::source_of;

/// Live connections per source, under a cap.
pub struct PerSource {
    cap: usize,
    live: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its source's count, given back when dropped.
pub struct SourceSlot {
    table: Arc<PerSource>,
    source: IpAddr,
}

impl PerSource {
    /// At most `cap` connections per source (at least one).
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            live: Mutex::new(HashMap::new()),
        })
    }

    /// A slot for a connection from `peer`, unless its source holds `cap`.
    /// (The map holds only sources with live connections, so it is bounded
    /// by the global connection cap.)
    pub fn try_take(self: &Arc<Self>, peer: IpAddr) -> Option<SourceSlot> {
        let source = source_of(peer);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let n = live.entry(source).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            table: self.clone(),
            source,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut live = self.table.live.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = live.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                live.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_at_its_cap_is_refused_until_one_of_its_connections_ends() {
        let t = PerSource::new(2);
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "198.51.100.1".parse().unwrap();
        let first = t.try_take(a).unwrap();
        let _second = t.try_take(a).unwrap();
        assert!(t.try_take(a).is_none());
        assert!(t.try_take(b).is_some());
        drop(first);
        assert!(t.try_take(a).is_some());
    }
}
