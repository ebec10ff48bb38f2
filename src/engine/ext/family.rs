//! `-4` / `-6`: connect over one address family only.

use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn admits(self, addr: &SocketAddr) -> bool {
        match self {
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4 (-4)",
            Family::V6 => "IPv6 (-6)",
        }
    }
}

/// Keeps the addresses of `family` (all of them when none is forced).
pub fn filter(addrs: Vec<SocketAddr>, family: Option<Family>) -> Vec<SocketAddr> {
    match family {
        None => addrs,
        Some(f) => addrs.into_iter().filter(|a| f.admits(a)).collect(),
    }
}
