//! The VRRP counters of one instance, as keepalived's SIGUSR2 statistics count them. The engine
//! (`vrrp::engine`) counts; the dump (`keepalived.stats`) and the metrics endpoint (`metrics`)
//! read them.

/// Per-instance counters (keepalived's SIGUSR2 statistics, `vrrp_stats` in its vrrp.h; the
/// names are keepalived's, `unicast_src_err` is rkeepalived's). The engine also keeps one for
/// packets dropped before an instance is known (VRID 0, no VRID to match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
    /// Length errors: truncated, bytes beyond the addresses and auth data, an address count
    /// the length does not hold, a bad IPv4 header.
    pub packet_len_err: u64,
    /// Checksum errors (RFC 3768 §5.3.8, RFC 5798 §5.2.8; keepalived's SNMP `chk_err`).
    pub chk_err: u64,
    /// Version errors: not the instance's version, or neither 2 nor 3 (keepalived `vers_err`).
    pub vers_err: u64,
    /// Type field not ADVERTISEMENT.
    pub invalid_type_rcvd: u64,
    /// VRID 0 (engine-wide counter only; keepalived `vrid_err`).
    pub vrid_err: u64,
    /// Adverts dropped because the IP TTL was not 255 (RFC 5798 §7.1), or outside a unicast
    /// peer's `min_ttl`/`max_ttl`.
    pub ip_ttl_err: u64,
    /// VRRPv2 Auth Type not 0, 1 or 2.
    pub invalid_authtype: u64,
    /// VRRPv2 Auth Type not the instance's (RFC 3768 §7.1).
    pub authtype_mismatch: u64,
    /// VRRPv2 password mismatch (RFC 3768 §7.1).
    pub auth_failure: u64,
    /// Adverts dropped for an advertisement interval mismatch (VRRPv2, as keepalived).
    pub advert_interval_err: u64,
    /// Adverts dropped by `check_unicast_src`: the source is not a `unicast_peer`.
    pub unicast_src_err: u64,
    /// Address list errors: another VIP count or a VIP missing from the advert (unless
    /// `skip_check_adv_addr` applies), or multicast on a unicast instance / unicast on a
    /// multicast one.
    pub addr_list_err: u64,
}
