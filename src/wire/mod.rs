//! Pure codecs for what crosses the wire. `Packet<T: AsRef<[u8]>>` views give checked field
//! access; `Repr` types give `parse` / `buffer_len` / `emit`. No IO here.

pub mod arp;
pub mod ndisc;
pub mod vrrp;
