//! Kernel ABI constants of the IPVS generic netlink family, with the names of
//! `include/uapi/linux/ip_vs.h` (and `genetlink.h` for the controller family).
//!
//! The values are pinned by the unit test at the bottom against the header's enums, so a typo
//! here is a test failure rather than a kernel `-EINVAL`.

#![allow(missing_docs)]

/// `IPVS_GENL_NAME`: the generic netlink family name.
pub const IPVS_GENL_NAME: &str = "IPVS";
/// `IPVS_GENL_VERSION`.
pub const IPVS_GENL_VERSION: u8 = 0x1;

// ----- generic netlink controller (include/uapi/linux/genetlink.h) ----------------------------
/// `GENL_ID_CTRL`: the nlctrl family id.
pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;

// ----- commands (enum starting at IPVS_CMD_UNSPEC = 0) ----------------------------------------
pub const IPVS_CMD_UNSPEC: u8 = 0;
pub const IPVS_CMD_NEW_SERVICE: u8 = 1;
pub const IPVS_CMD_SET_SERVICE: u8 = 2;
pub const IPVS_CMD_DEL_SERVICE: u8 = 3;
pub const IPVS_CMD_GET_SERVICE: u8 = 4;
pub const IPVS_CMD_NEW_DEST: u8 = 5;
pub const IPVS_CMD_SET_DEST: u8 = 6;
pub const IPVS_CMD_DEL_DEST: u8 = 7;
pub const IPVS_CMD_GET_DEST: u8 = 8;
pub const IPVS_CMD_NEW_DAEMON: u8 = 9;
pub const IPVS_CMD_DEL_DAEMON: u8 = 10;
pub const IPVS_CMD_GET_DAEMON: u8 = 11;
pub const IPVS_CMD_SET_CONFIG: u8 = 12;
pub const IPVS_CMD_GET_CONFIG: u8 = 13;
pub const IPVS_CMD_SET_INFO: u8 = 14;
pub const IPVS_CMD_GET_INFO: u8 = 15;
pub const IPVS_CMD_ZERO: u8 = 16;
pub const IPVS_CMD_FLUSH: u8 = 17;

// ----- top-level attributes (IPVS_CMD_ATTR_*) -------------------------------------------------
pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
pub const IPVS_CMD_ATTR_DEST: u16 = 2;
pub const IPVS_CMD_ATTR_DAEMON: u16 = 3;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

// ----- service attributes (IPVS_SVC_ATTR_*), nested in IPVS_CMD_ATTR_SERVICE ------------------
pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
pub const IPVS_SVC_ATTR_STATS: u16 = 10;
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

// ----- destination attributes (IPVS_DEST_ATTR_*), nested in IPVS_CMD_ATTR_DEST ----------------
pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const IPVS_DEST_ATTR_STATS: u16 = 10;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

// ----- sync daemon attributes (IPVS_DAEMON_ATTR_*), nested in IPVS_CMD_ATTR_DAEMON ------------
pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;
/// `IP_VS_STATE_MASTER` / `IP_VS_STATE_BACKUP`: the sync daemon's role.
pub const IP_VS_STATE_NONE: u32 = 0;
pub const IP_VS_STATE_MASTER: u32 = 1;
pub const IP_VS_STATE_BACKUP: u32 = 2;
/// `IP_VS_IFNAME_MAXLEN`: interface names are at most 15 bytes plus NUL.
pub const IP_VS_IFNAME_MAXLEN: usize = 16;

// ----- GET_INFO reply (IPVS_INFO_ATTR_*) ------------------------------------------------------
pub const IPVS_INFO_ATTR_VERSION: u16 = 1;
pub const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

// ----- service flags (IP_VS_SVC_F_*) ----------------------------------------------------------
pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;
/// `IP_VS_SVC_F_SCHED_SH_FALLBACK` (also the mh scheduler's `mh-fallback`).
pub const IP_VS_SVC_F_SCHED_SH_FALLBACK: u32 = IP_VS_SVC_F_SCHED1;
/// `IP_VS_SVC_F_SCHED_SH_PORT` (also the mh scheduler's `mh-port`).
pub const IP_VS_SVC_F_SCHED_SH_PORT: u32 = IP_VS_SVC_F_SCHED2;

// ----- forwarding methods (IP_VS_CONN_F_*) ----------------------------------------------------
pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;
pub const IP_VS_CONN_F_MASQ: u32 = 0x0000;
pub const IP_VS_CONN_F_LOCALNODE: u32 = 0x0001;
pub const IP_VS_CONN_F_TUNNEL: u32 = 0x0002;
pub const IP_VS_CONN_F_DROUTE: u32 = 0x0003;
pub const IP_VS_CONN_F_BYPASS: u32 = 0x0004;

// ----- tunnel types and flags (kernel >= 5.2) -------------------------------------------------
pub const IP_VS_CONN_F_TUNNEL_TYPE_IPIP: u8 = 0;
pub const IP_VS_CONN_F_TUNNEL_TYPE_GUE: u8 = 1;
pub const IP_VS_CONN_F_TUNNEL_TYPE_GRE: u8 = 2;
pub const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM: u16 = 0;
pub const IP_VS_TUNNEL_ENCAP_FLAG_CSUM: u16 = 1 << 0;
pub const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: u16 = 1 << 1;

/// `IP_VS_SCHEDNAME_MAXLEN`: scheduler names are at most 15 bytes plus NUL.
pub const IP_VS_SCHEDNAME_MAXLEN: usize = 16;
/// `IP_VS_PENAME_MAXLEN`.
pub const IP_VS_PENAME_MAXLEN: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    /// The enums of ip_vs.h written out in declaration order: each constant must equal its
    /// position (they are C enums counting from UNSPEC = 0).
    #[test]
    fn enums_match_ip_vs_h_order() {
        let cmds = [
            IPVS_CMD_UNSPEC,
            IPVS_CMD_NEW_SERVICE,
            IPVS_CMD_SET_SERVICE,
            IPVS_CMD_DEL_SERVICE,
            IPVS_CMD_GET_SERVICE,
            IPVS_CMD_NEW_DEST,
            IPVS_CMD_SET_DEST,
            IPVS_CMD_DEL_DEST,
            IPVS_CMD_GET_DEST,
            IPVS_CMD_NEW_DAEMON,
            IPVS_CMD_DEL_DAEMON,
            IPVS_CMD_GET_DAEMON,
            IPVS_CMD_SET_CONFIG,
            IPVS_CMD_GET_CONFIG,
            IPVS_CMD_SET_INFO,
            IPVS_CMD_GET_INFO,
            IPVS_CMD_ZERO,
            IPVS_CMD_FLUSH,
        ];
        for (i, c) in cmds.iter().enumerate() {
            assert_eq!(usize::from(*c), i);
        }
        let cmd_attrs = [
            IPVS_CMD_ATTR_SERVICE,
            IPVS_CMD_ATTR_DEST,
            IPVS_CMD_ATTR_DAEMON,
            IPVS_CMD_ATTR_TIMEOUT_TCP,
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
            IPVS_CMD_ATTR_TIMEOUT_UDP,
        ];
        let svc = [
            IPVS_SVC_ATTR_AF,
            IPVS_SVC_ATTR_PROTOCOL,
            IPVS_SVC_ATTR_ADDR,
            IPVS_SVC_ATTR_PORT,
            IPVS_SVC_ATTR_FWMARK,
            IPVS_SVC_ATTR_SCHED_NAME,
            IPVS_SVC_ATTR_FLAGS,
            IPVS_SVC_ATTR_TIMEOUT,
            IPVS_SVC_ATTR_NETMASK,
            IPVS_SVC_ATTR_STATS,
            IPVS_SVC_ATTR_PE_NAME,
            IPVS_SVC_ATTR_STATS64,
        ];
        let dest = [
            IPVS_DEST_ATTR_ADDR,
            IPVS_DEST_ATTR_PORT,
            IPVS_DEST_ATTR_FWD_METHOD,
            IPVS_DEST_ATTR_WEIGHT,
            IPVS_DEST_ATTR_U_THRESH,
            IPVS_DEST_ATTR_L_THRESH,
            IPVS_DEST_ATTR_ACTIVE_CONNS,
            IPVS_DEST_ATTR_INACT_CONNS,
            IPVS_DEST_ATTR_PERSIST_CONNS,
            IPVS_DEST_ATTR_STATS,
            IPVS_DEST_ATTR_ADDR_FAMILY,
            IPVS_DEST_ATTR_STATS64,
            IPVS_DEST_ATTR_TUN_TYPE,
            IPVS_DEST_ATTR_TUN_PORT,
            IPVS_DEST_ATTR_TUN_FLAGS,
        ];
        let daemon = [
            IPVS_DAEMON_ATTR_STATE,
            IPVS_DAEMON_ATTR_MCAST_IFN,
            IPVS_DAEMON_ATTR_SYNC_ID,
            IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            IPVS_DAEMON_ATTR_MCAST_GROUP,
            IPVS_DAEMON_ATTR_MCAST_GROUP6,
            IPVS_DAEMON_ATTR_MCAST_PORT,
            IPVS_DAEMON_ATTR_MCAST_TTL,
        ];
        for list in [&cmd_attrs[..], &svc[..], &dest[..], &daemon[..]] {
            for (i, a) in list.iter().enumerate() {
                assert_eq!(usize::from(*a), i + 1);
            }
        }
    }

    #[test]
    fn flags_and_methods_match_ip_vs_h() {
        assert_eq!(
            [
                IP_VS_SVC_F_PERSISTENT,
                IP_VS_SVC_F_HASHED,
                IP_VS_SVC_F_ONEPACKET,
                IP_VS_SVC_F_SCHED1,
                IP_VS_SVC_F_SCHED2,
                IP_VS_SVC_F_SCHED3
            ],
            [0x1, 0x2, 0x4, 0x8, 0x10, 0x20]
        );
        assert_eq!(IP_VS_SVC_F_SCHED_SH_FALLBACK, 0x8);
        assert_eq!(IP_VS_SVC_F_SCHED_SH_PORT, 0x10);
        assert_eq!(
            [
                IP_VS_CONN_F_MASQ,
                IP_VS_CONN_F_LOCALNODE,
                IP_VS_CONN_F_TUNNEL,
                IP_VS_CONN_F_DROUTE,
                IP_VS_CONN_F_BYPASS,
                IP_VS_CONN_F_FWD_MASK
            ],
            [0, 1, 2, 3, 4, 7]
        );
        assert_eq!(
            [IP_VS_STATE_NONE, IP_VS_STATE_MASTER, IP_VS_STATE_BACKUP],
            [0, 1, 2]
        );
        assert_eq!((IPVS_GENL_NAME, IPVS_GENL_VERSION), ("IPVS", 1));
        assert_eq!((GENL_ID_CTRL, CTRL_CMD_GETFAMILY), (0x10, 3));
        assert_eq!((CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME), (1, 2));
        assert_eq!(
            (IPVS_INFO_ATTR_VERSION, IPVS_INFO_ATTR_CONN_TAB_SIZE),
            (1, 2)
        );
    }
}
