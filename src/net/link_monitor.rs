//! Link state events from the kernel: an rtnetlink socket subscribed to `RTNLGRP_LINK`
//! (linux/rtnetlink.h), as keepalived's netlink "reflector". A link counts as up when it has
//! both `IFF_UP` and `IFF_RUNNING` (keepalived `IF_FLAGS_UP`); `RTM_DELLINK` is down.
//!
//! The socket is read by a dedicated thread (neli's socket is blocking) that forwards
//! `(name, up)` for every `RTM_NEWLINK`/`RTM_DELLINK` to a tokio channel; the receiver keeps
//! the last state per link and ignores repeats.

use neli::consts::rtnl::{Iff, Ifla};
use neli::consts::socket::NlFamily;
use neli::nl::NlPayload;
use neli::rtnl::Ifinfomsg;
use neli::socket::synchronous::NlSocketHandle;
use neli::utils::Groups;
use std::io::Cursor;
use tokio::sync::mpsc;

use super::NetError;

/// `RTNLGRP_LINK` (linux/rtnetlink.h).
const RTNLGRP_LINK: u32 = 1;

/// One link event: interface name and whether it is up and running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    pub name: String,
    pub up: bool,
}

/// Opens the subscription in the calling thread's network namespace and starts the reader
/// thread. The thread ends when the receiver is dropped (at the next event) or the socket
/// fails.
///
/// Errors: [`NetError::Io`] when the socket cannot be opened or subscribed.
pub fn spawn(tx: mpsc::Sender<LinkEvent>) -> Result<(), NetError> {
    let types = (libc::RTM_NEWLINK, libc::RTM_DELLINK);
    spawn_monitor("link monitor", &[RTNLGRP_LINK], types, tx, decode_link)
}

/// Decodes the body of one `RTM_NEWLINK` (`is_new`) or `RTM_DELLINK` message (`struct
/// ifinfomsg` and its attributes, linux/rtnetlink.h) into an event; `None` when it does not
/// decode or has no `IFLA_IFNAME`. Never panics (fuzzed: fuzz/bodies.rs `rtnl`).
pub fn decode_link(bytes: &[u8], is_new: bool) -> Option<LinkEvent> {
    use neli::FromBytesWithInput;
    let info = Ifinfomsg::from_bytes_with_input(&mut Cursor::new(bytes), bytes.len()).ok()?;
    let name = info.rtattrs().iter().find_map(|a| {
        (*a.rta_type() == Ifla::Ifname).then(|| {
            let p = a.rta_payload().as_ref();
            let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
            String::from_utf8_lossy(&p[..end]).into_owned()
        })
    })?;
    let flags = *info.ifi_flags();
    let up = is_new && flags.contains(Iff::UP) && flags.contains(Iff::RUNNING);
    Some(LinkEvent { name, up })
}

/// Subscribes an rtnetlink socket to `groups` in the calling thread's network namespace and
/// starts thread `what` running [`monitor_loop`] on it.
///
/// Errors: [`NetError::Io`] when the socket cannot be opened or subscribed, or the thread
/// cannot start.
pub(super) fn spawn_monitor<E: Send + 'static>(
    what: &'static str,
    groups: &[u32],
    types: (u16, u16),
    tx: mpsc::Sender<E>,
    decode: impl FnMut(&[u8], bool) -> Option<E> + Send + 'static,
) -> Result<(), NetError> {
    let sock = NlSocketHandle::connect(NlFamily::Route, None, Groups::new_groups(groups)).map_err(
        |e| {
            NetError::io(
                format!("{what}: subscribe to rtnetlink groups {groups:?}"),
                std::io::Error::other(e.to_string()),
            )
        },
    )?;
    // A receive timeout lets the thread see that nobody listens any more (e.g. the checkers
    // of a reloaded config replaced ours) even while no event comes.
    // SAFETY: the fd belongs to `sock`, which outlives this borrow.
    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(std::os::fd::AsRawFd::as_raw_fd(&sock)) };
    if let Err(e) = socket2::SockRef::from(&fd).set_read_timeout(Some(IDLE_CHECK)) {
        tracing::warn!("{what}: SO_RCVTIMEO: {e}");
    }
    std::thread::Builder::new()
        .name(what.replace(' ', "-"))
        .spawn(move || monitor_loop(what, &sock, types, &tx, decode))
        .map_err(|e| NetError::io(format!("start the {what} thread"), e))?;
    Ok(())
}

/// How often a monitor thread with no events checks that its receiver is still there.
const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads rtnetlink multicast messages from `sock` until `tx` is closed: each message of type
/// `new` or `del` goes to `decode` (its body, and whether it is `new`), and what that returns
/// to `tx`. Receive errors (ENOBUFS: events were lost) are logged and reading goes on; EINTR
/// (a SIGSTOP/SIGCONT of the daemon) is retried silently.
pub(super) fn monitor_loop<E>(
    what: &str,
    sock: &NlSocketHandle,
    (new, del): (u16, u16),
    tx: &mpsc::Sender<E>,
    mut decode: impl FnMut(&[u8], bool) -> Option<E>,
) {
    loop {
        if tx.is_closed() {
            return;
        }
        let (iter, _) = match sock.recv::<u16, neli::types::Buffer>() {
            Ok(r) => r,
            // The receive timeout, or EINTR: a socket with SO_RCVTIMEO returns EINTR when the
            // process was stopped and continued (SIGSTOP/SIGCONT, signal(7)), even without a
            // handler. Neither is an error: read again.
            Err(neli::err::SocketError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                tracing::warn!("{what}: netlink receive error: {e}");
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
        };
        for msg in iter {
            let Ok(msg) = msg else { continue };
            let ty = *msg.nl_type();
            if ty != new && ty != del {
                continue;
            }
            let NlPayload::Payload(body) = msg.nl_payload() else {
                continue;
            };
            let Some(ev) = decode(body.as_ref(), ty == new) else {
                continue;
            };
            if tx.blocking_send(ev).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|d| {
                d.flatten()
                    .filter(|t| {
                        std::fs::read_to_string(t.path().join("comm"))
                            .is_ok_and(|c| c.trim() == name)
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// A monitor thread ends once its receiver is gone, even when no event arrives (it only
    /// listens: nothing is sent anywhere).
    #[test]
    fn monitor_thread_ends_when_nobody_listens() {
        let (tx, rx) = mpsc::channel(8);
        if let Err(e) = spawn_monitor(
            "idle test mon",
            &[RTNLGRP_LINK],
            (0, 0),
            tx,
            |_, _| Some(()),
        ) {
            eprintln!("SKIPPED: monitor_thread_ends_when_nobody_listens: {e}");
            return;
        }
        // The thread names itself once it runs.
        let deadline = std::time::Instant::now() + IDLE_CHECK * 5;
        while threads_named("idle-test-mon") == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(threads_named("idle-test-mon"), 1);
        drop(rx);
        let deadline = std::time::Instant::now() + IDLE_CHECK * 5;
        while threads_named("idle-test-mon") > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(
            threads_named("idle-test-mon"),
            0,
            "monitor thread still running"
        );
    }
}
