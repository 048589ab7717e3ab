//! The pure diff from the kernel's IPVS table to the desired one.
//!
//! Ownership rule: rkeepalived owns exactly the services of its desired table. A service the
//! kernel has but the desired table lacks belongs to someone else (another daemon, an operator
//! with `ipvsadm`) and is left alone. Inside an owned service the desired destinations are the
//! whole truth: extra destinations are removed.

use crate::ipvs::model::{Op, ServiceEntry, ServiceKey, Table};

/// The changes that turn `actual` into `desired` for the services `desired` owns, in an order
/// the kernel accepts: services are added or edited before their destinations; within a
/// service, removals come before additions (so a changed forwarding method or a re-added
/// address never collides with the old entry).
///
/// A service whose identity matches but whose settings differ is edited in place
/// (`SET_SERVICE`), which keeps its connections; a destination with changed settings is edited
/// (`SET_DEST`).
pub fn reconcile(desired: &Table, actual: &Table) -> Vec<Op> {
    // Sized for the common large case, a table the kernel does not have yet: one op per
    // service and per destination.
    let missing = desired
        .iter()
        .filter(|(k, _)| !actual.contains_key(k))
        .map(|(_, e)| 1 + e.dests.len())
        .sum();
    let mut ops = Vec::with_capacity(missing);
    for (key, want) in desired {
        match actual.get(key) {
            None => {
                ops.push(Op::AddService(want.service.clone()));
                ops.extend(want.dests.values().map(|d| Op::AddDest(*key, d.clone())));
            }
            Some(have) => {
                if have.service != want.service {
                    ops.push(Op::EditService(want.service.clone()));
                }
                diff_dests(want, have, &mut ops);
            }
        }
    }
    ops
}

fn diff_dests(want: &ServiceEntry, have: &ServiceEntry, ops: &mut Vec<Op>) {
    let key = want.service.key;
    for dk in have.dests.keys() {
        if !want.dests.contains_key(dk) {
            ops.push(Op::DelDest(key, *dk));
        }
    }
    for (dk, d) in &want.dests {
        match have.dests.get(dk) {
            None => ops.push(Op::AddDest(key, d.clone())),
            Some(h) if h != d => ops.push(Op::EditDest(key, d.clone())),
            Some(_) => {}
        }
    }
}

/// The changes that remove every service of `owned` that `actual` still has (shutdown
/// without `-I`); services not in `owned` are left alone.
pub fn teardown<'a>(owned: impl IntoIterator<Item = &'a ServiceKey>, actual: &Table) -> Vec<Op> {
    owned
        .into_iter()
        .filter(|k| actual.contains_key(k))
        .map(|k| Op::DelService(*k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::consts::*;
    use crate::ipvs::model::*;
    use std::collections::BTreeMap;

    fn svc(port: u16, sched: &str) -> Service {
        Service {
            key: ServiceKey::Addr {
                protocol: IPPROTO_TCP,
                addr: "10.0.0.1".parse().unwrap(),
                port,
            },
            sched: sched.into(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        }
    }

    fn dest(last: u8, weight: u32) -> Dest {
        Dest {
            key: DestKey {
                addr: format!("10.0.1.{last}").parse().unwrap(),
                port: 80,
            },
            fwd: IP_VS_CONN_F_MASQ,
            weight,
            u_thresh: 0,
            l_thresh: 0,
            tun: Tunnel::default(),
        }
    }

    fn table(entries: &[(Service, Vec<Dest>)]) -> Table {
        entries
            .iter()
            .map(|(s, ds)| {
                (
                    s.key,
                    ServiceEntry {
                        service: s.clone(),
                        dests: ds.iter().map(|d| (d.key, d.clone())).collect(),
                    },
                )
            })
            .collect()
    }

    /// Applies ops to a table the way the kernel would (for the round-trip property).
    fn apply(t: &mut Table, ops: &[Op]) {
        for op in ops {
            match op {
                Op::AddService(s) | Op::EditService(s) => {
                    let e = t.entry(s.key).or_insert_with(|| ServiceEntry {
                        service: s.clone(),
                        dests: BTreeMap::new(),
                    });
                    e.service = s.clone();
                }
                Op::DelService(k) => {
                    t.remove(k);
                }
                Op::AddDest(k, d) | Op::EditDest(k, d) => {
                    t.get_mut(k).unwrap().dests.insert(d.key, d.clone());
                }
                Op::DelDest(k, d) => {
                    t.get_mut(k).unwrap().dests.remove(d);
                }
            }
        }
    }

    #[test]
    fn empty_kernel_gets_everything() {
        let want = table(&[(svc(80, "wlc"), vec![dest(1, 1), dest(2, 2)])]);
        let ops = reconcile(&want, &Table::new());
        assert_eq!(ops.len(), 3);
        assert!(matches!(ops[0], Op::AddService(_)));
        assert!(reconcile(&want, &want).is_empty(), "in sync: nothing to do");
    }

    #[test]
    fn minimal_changes_and_foreign_services_untouched() {
        let foreign = svc(8080, "rr");
        let have = table(&[
            (svc(80, "rr"), vec![dest(1, 1), dest(3, 1)]),
            (foreign.clone(), vec![dest(9, 1)]),
        ]);
        let want = table(&[(svc(80, "wlc"), vec![dest(1, 5), dest(2, 1)])]);
        let ops = reconcile(&want, &have);
        let k = svc(80, "").key;
        assert_eq!(
            ops,
            vec![
                Op::EditService(svc(80, "wlc")),
                Op::DelDest(k, dest(3, 1).key),
                Op::EditDest(k, dest(1, 5)),
                Op::AddDest(k, dest(2, 1)),
            ]
        );
        let mut t = have.clone();
        apply(&mut t, &ops);
        assert_eq!(t[&k], want[&k]);
        assert_eq!(t[&foreign.key], have[&foreign.key]);
    }

    #[test]
    fn teardown_removes_only_owned_present_services() {
        let have = table(&[(svc(80, "rr"), vec![]), (svc(81, "rr"), vec![])]);
        let owned = table(&[(svc(80, "rr"), vec![]), (svc(82, "rr"), vec![])]);
        assert_eq!(
            teardown(owned.keys(), &have),
            vec![Op::DelService(svc(80, "").key)]
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn arb_table() -> impl Strategy<Value = Table> {
            proptest::collection::btree_map(
                (80u16..84, proptest::sample::select(vec!["rr", "wlc"])),
                proptest::collection::btree_map(1u8..6, 0u32..3, 0..4),
                0..4,
            )
            .prop_map(|m| {
                let entries: Vec<(Service, Vec<Dest>)> = m
                    .into_iter()
                    .map(|((p, s), ds)| {
                        (svc(p, s), ds.into_iter().map(|(l, w)| dest(l, w)).collect())
                    })
                    .collect();
                table(&entries)
            })
        }

        proptest! {
            /// Applying the diff makes every owned service equal to the desired one, leaves the
            /// others alone, and a second diff is empty.
            #[test]
            fn diff_converges(want in arb_table(), have in arb_table()) {
                let ops = reconcile(&want, &have);
                let mut t = have.clone();
                apply(&mut t, &ops);
                for (k, e) in &want {
                    prop_assert_eq!(&t[k], e);
                }
                for (k, e) in &have {
                    if !want.contains_key(k) {
                        prop_assert_eq!(&t[k], e);
                    }
                }
                prop_assert!(reconcile(&want, &t).is_empty());
            }
        }
    }
}
