//! VMAC interfaces (`use_vmac`): a macvlan on the VRRP interface carrying the RFC 5798 §7.3
//! virtual router MAC `00:00:5e:00:01:VRID` (IPv4) or `00:00:5e:00:02:VRID` (IPv6).
//!
//! Observed with keepalived 2.2.7 in a namespace and matched here: the macvlan is
//! `mode private`, `addrgenmode none` (no IPv6 link-local of its own), up, named `vrrp.VRID`
//! by default; on the VMAC keepalived sets `arp_ignore=1`, `accept_local=1`,
//! `promote_secondaries=1` (and `disable_ipv6=1` for an IPv4 instance), and on the base
//! interface `arp_ignore=1`, `arp_filter=1` (so only the VMAC answers ARP for the VIPs);
//! rkeepalived adds `arp_announce=2` on the base (see
//! [`SysctlGuard::vmac`]). The VMAC is deleted on exit. Unlike keepalived, which
//! leaves the base interface's sysctls changed after it stops, [`SysctlGuard`] restores them.
//!
//! Kernel references: `include/uapi/linux/if_link.h` (`IFLA_LINKINFO`, `IFLA_INFO_KIND`,
//! `IFLA_INFO_DATA`, `IFLA_MACVLAN_MODE`, `MACVLAN_MODE_PRIVATE`, `IFLA_AF_SPEC`,
//! `IFLA_INET6_ADDR_GEN_MODE`, `IN6_ADDR_GEN_MODE_NONE`).

use neli::consts::nl::NlmF;
use neli::consts::rtnl::{Iff, Ifla, RtAddrFamily, Rtm};
use neli::rtnl::IfinfomsgBuilder;
use neli::types::{Buffer, RtBuffer};

use super::NetError;
use super::netlink::{Netlink, build_attr};

const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_MACVLAN_MODE: u16 = 1;
const MACVLAN_MODE_PRIVATE: u32 = 1;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
const IN6_ADDR_GEN_MODE_NONE: u8 = 1;

/// The virtual router MAC of RFC 5798 §7.3 for `vrid`.
pub fn virtual_mac(vrid: u8, ipv6: bool) -> [u8; 6] {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// keepalived's default VMAC name: `vrrp.VRID` (`vrrp6.VRID`... keepalived names IPv6 ones
/// the same way unless configured).
pub fn default_name(vrid: u8) -> String {
    format!("vrrp.{vrid}")
}

/// One netlink attribute (`struct nlattr` + payload, padded to 4 bytes).
fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut v = Vec::with_capacity((len + 3) & !3);
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&ty.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize((len + 3) & !3, 0);
    v
}

impl Netlink {
    /// Creates macvlan `name` on `base_ifindex` with `mac` (private mode, no IPv6 address
    /// generation), up. Returns its ifindex. An existing interface of that name is an error
    /// (`EEXIST`) so a foreign interface is never taken over.
    pub fn create_vmac(
        &self,
        base_ifindex: u32,
        name: &str,
        mac: [u8; 6],
    ) -> Result<u32, NetError> {
        let op = format!("RTM_NEWLINK macvlan {name}");
        let codec = |e: String| NetError::Codec {
            op: op.clone(),
            detail: e,
        };
        let mut attrs = RtBuffer::<Ifla, Buffer>::new();
        attrs.push(build_attr(&op, Ifla::Ifname, name)?);
        attrs.push(build_attr(&op, Ifla::Link, base_ifindex)?);
        attrs.push(build_attr(&op, Ifla::Address, Buffer::from(mac.to_vec()))?);
        let data = nla(IFLA_MACVLAN_MODE, &MACVLAN_MODE_PRIVATE.to_ne_bytes());
        let linkinfo = [
            nla(IFLA_INFO_KIND, b"macvlan\0"),
            nla(IFLA_INFO_DATA, &data),
        ]
        .concat();
        attrs.push(build_attr(&op, Ifla::Linkinfo, Buffer::from(linkinfo))?);
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .rtattrs(attrs)
            .build()
            .map_err(|e| codec(e.to_string()))?;
        self.request(&op, Rtm::Newlink, NlmF::CREATE | NlmF::EXCL, msg)?;
        let ifindex = self.link(name)?.ifindex;
        if let Some(l) = self.ledger() {
            l.added_link(ifindex);
        }
        // The kernel refuses IFLA_AF_SPEC/AF_INET6 before the device exists (EAFNOSUPPORT), so
        // the address generation mode is set on the new, still down, link; then it goes up
        // without ever getting a link-local address of its own.
        let inet6 = nla(IFLA_INET6_ADDR_GEN_MODE, &[IN6_ADDR_GEN_MODE_NONE]);
        let af_spec = nla(libc::AF_INET6 as u16, &inet6);
        self.set_link(&op, ifindex, Some(af_spec), Iff::empty())?;
        self.set_link(&op, ifindex, None, Iff::UP)?;
        Ok(ifindex)
    }

    /// `RTM_NEWLINK` on an existing link: optional `IFLA_AF_SPEC`, and `IFF_UP` set or cleared.
    fn set_link(
        &self,
        op: &str,
        ifindex: u32,
        af_spec: Option<Vec<u8>>,
        up: Iff,
    ) -> Result<(), NetError> {
        let mut attrs = RtBuffer::<Ifla, Buffer>::new();
        let change = if af_spec.is_some() {
            Iff::empty()
        } else {
            Iff::UP
        };
        if let Some(spec) = af_spec {
            attrs.push(build_attr(op, Ifla::AfSpec, Buffer::from(spec))?);
        }
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .ifi_index(ifindex as i32)
            .ifi_flags(up)
            .ifi_change(change)
            .rtattrs(attrs)
            .build()
            .map_err(|e| NetError::Codec {
                op: op.to_owned(),
                detail: e.to_string(),
            })?;
        self.request(op, Rtm::Newlink, NlmF::empty(), msg).map(drop)
    }

    /// Deletes interface `ifindex` (`RTM_DELLINK`); one already gone is not an error.
    pub fn delete_link(&self, ifindex: u32) -> Result<(), NetError> {
        let op = format!("RTM_DELLINK ifindex {ifindex}");
        let msg = IfinfomsgBuilder::default()
            .ifi_family(RtAddrFamily::Unspecified)
            .ifi_index(ifindex as i32)
            .build()
            .map_err(|e| NetError::Codec {
                op: op.clone(),
                detail: e.to_string(),
            })?;
        match self.request(&op, Rtm::Dellink, NlmF::empty(), msg) {
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            other => other.map(drop)?,
        }
        if let Some(l) = self.ledger() {
            l.removed_link(ifindex);
        }
        Ok(())
    }
}

/// Sets IPv4 sysctls of interfaces (`/proc/sys/net/ipv4/conf/IF/KEY`, in the calling
/// thread's network namespace) and restores the old values when dropped.
#[derive(Debug, Default)]
pub struct SysctlGuard {
    saved: Vec<(String, String)>,
}

impl SysctlGuard {
    /// Sets `net.ipv4.conf.IF.KEY = value`, remembering the old value.
    pub fn set(&mut self, ifname: &str, key: &str, value: &str) -> Result<(), NetError> {
        self.set_path(format!("/proc/sys/net/ipv4/conf/{ifname}/{key}"), value)
    }

    /// Sets the sysctl file `path` to `value`, remembering the old value.
    fn set_path(&mut self, path: String, value: &str) -> Result<(), NetError> {
        let old =
            std::fs::read_to_string(&path).map_err(|e| NetError::io(format!("read {path}"), e))?;
        std::fs::write(&path, value).map_err(|e| NetError::io(format!("write {path}"), e))?;
        self.saved.push((path, old.trim().to_string()));
        Ok(())
    }

    /// keepalived's VMAC settings: on the VMAC `arp_ignore=1`, `accept_local=1`,
    /// `promote_secondaries=1`, and for an IPv4 instance (`!ipv6`) `ipv6.disable_ipv6=1` (so
    /// the VMAC has no IPv6 routes; measured with keepalived 2.2.7); on the base
    /// `arp_ignore=1`, `arp_filter=1` and (ours) `arp_announce=2`.
    pub fn vmac(&mut self, base: &str, vmac: &str, ipv6: bool) -> Result<(), NetError> {
        if !ipv6 {
            self.set_path(format!("/proc/sys/net/ipv6/conf/{vmac}/disable_ipv6"), "1")?;
        }
        for (key, v) in [
            ("arp_ignore", "1"),
            ("accept_local", "1"),
            ("promote_secondaries", "1"),
        ] {
            self.set(vmac, key, v)?;
        }
        // arp_announce=2 is ours, not keepalived's: without it the base interface's own ARP
        // requests (e.g. to answer a client's connection to the VIP) carry the VIP as sender
        // address with the base MAC, and clients learn the VIP at the real MAC (observed with
        // keepalived 2.2.7 in a namespace), which defeats the VMAC.
        for (key, v) in [
            ("arp_ignore", "1"),
            ("arp_filter", "1"),
            ("arp_announce", "2"),
        ] {
            self.set(base, key, v)?;
        }
        Ok(())
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        for (path, old) in self.saved.drain(..).rev() {
            // The interface may be gone already (the VMAC); nothing to restore then.
            let _ = std::fs::write(&path, &old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_macs() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 0x33]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 0xff]);
        assert_eq!(default_name(7), "vrrp.7");
    }

    #[test]
    fn nla_is_padded() {
        assert_eq!(
            nla(1, b"macvlan\0"),
            [12, 0, 1, 0, b'm', b'a', b'c', b'v', b'l', b'a', b'n', 0]
        );
        assert_eq!(nla(8, &[1]), [5, 0, 8, 0, 1, 0, 0, 0]);
    }
}
