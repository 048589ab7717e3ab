//! Pure codecs for what crosses the wire. `Packet<T: AsRef<[u8]>>` views give checked field
//! access; `Repr` types give `parse` / `buffer_len` / `emit`; [`checksum`] is the one RFC 1071
//! Internet checksum. No IO here.

pub mod arp;
pub mod checksum;
pub mod ndisc;
pub mod vrrp;
