#!/usr/bin/env bash
# Captures real adverts, gratuitous ARPs and unsolicited NAs of keepalived and rkeepalived in two
# throwaway network namespaces (a veth pair, private addresses; nothing leaves them) and writes
# each packet as a seed of the matching fuzz target: corpus/vrrp_ipv4 (the IPv4 packet as a raw
# socket returns it), corpus/vrrp_ipv6 and corpus/ndisc (source and destination address, then the
# IPv6 payload), corpus/arp (the Ethernet frame). Run as root from fuzz/, after `cargo build`.
set -euo pipefail
cd "$(dirname "$0")"
rk=${RKEEPALIVED_BIN:-../target/debug/rkeepalived}
ns=rkfz$$
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    ip netns del "${ns}a" 2>/dev/null || true
    ip netns del "${ns}b" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "${ns}a"
ip netns add "${ns}b"
ip -n "${ns}a" link add eth0 type veth peer name eth0 netns "${ns}b"
for n in a b; do
    ip -n "${ns}$n" link set lo up
    ip -n "${ns}$n" link set eth0 up
done
ip -n "${ns}a" addr add 10.250.0.1/24 dev eth0
ip -n "${ns}b" addr add 10.250.0.2/24 dev eth0
ip -n "${ns}a" addr add fd00:fa::1/64 dev eth0 nodad
ip -n "${ns}b" addr add fd00:fa::2/64 dev eth0 nodad
conf() { # name vrid version auth vips...
    local name=$1 vrid=$2 version=$3 auth=$4; shift 4
    echo "vrrp_instance $name {"
    echo "  state MASTER"
    echo "  interface eth0"
    echo "  virtual_router_id $vrid"
    echo "  priority 200"
    echo "  advert_int 1"
    echo "  version $version"
    [ "$auth" = pass ] && echo "  authentication { auth_type PASS; auth_pass secret1 }"
    echo "  virtual_ipaddress {"
    for v in "$@"; do echo "    $v"; done
    echo "  }"
    echo "}"
}
{
    echo "global_defs { vrrp_garp_master_repeat 2 }"
    conf V2 51 2 pass 10.250.0.100/24 10.250.0.101/24 10.250.0.102/24
    conf V3 52 3 none 10.250.0.110/24
    conf V6 53 3 none fd00:fa::100/64 fd00:fa::101/64
} > "$work/a.conf"
sed 's/virtual_router_id 5/virtual_router_id 6/' "$work/a.conf" > "$work/b.conf"
ip netns exec "${ns}a" tcpdump -U -i eth0 -w "$work/cap.pcap" 'vrrp or arp or icmp6 or ip6 proto 112' \
    >/dev/null 2>&1 & pids+=($!)
sleep 1
ip netns exec "${ns}a" keepalived -n -l -P -f "$work/a.conf" -p "$work/k.pid" -r "$work/kv.pid" \
    -c "$work/kc.pid" >/dev/null 2>&1 & pids+=($!)
ip netns exec "${ns}b" "$rk" -n -l -f "$work/b.conf" -p "$work/r.pid" >/dev/null 2>&1 & pids+=($!)
sleep 6
kill "${pids[1]}" "${pids[2]}" 2>/dev/null || true
sleep 2
kill "${pids[0]}" 2>/dev/null || true
sleep 0.5
python3 - "$work/cap.pcap" <<'PY'
import os, struct, sys, hashlib
data = open(sys.argv[1], 'rb').read()
off, n = 24, {}
def save(target, blob):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    name = f"corpus/{target}/seed-{hashlib.sha1(blob).hexdigest()[:16]}"
    if not os.path.exists(name):
        open(name, 'wb').write(blob)
        n[target] = n.get(target, 0) + 1
while off + 16 <= len(data):
    incl = struct.unpack_from('<I', data, off + 8)[0]
    frame = data[off + 16: off + 16 + incl]
    off += 16 + incl
    eth = struct.unpack_from('>H', frame, 12)[0]
    if eth == 0x0806:
        save('arp', frame)
    elif eth == 0x0800 and frame[14 + 9] == 112:
        save('vrrp_ipv4', frame[14:])
    elif eth == 0x86dd:
        ip6 = frame[14:]
        nh, addrs, payload = ip6[6], ip6[8:40], ip6[40:]
        if nh == 112:
            save('vrrp_ipv6', addrs + payload)
        elif nh == 58 and payload and payload[0] == 136:
            save('ndisc', addrs + payload)
print("new seeds:", n)
PY
