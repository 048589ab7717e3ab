//! A throwaway qemu (TCG) virtual machine with the Debian cloud kernel, for tests that need
//! kernel features the host lacks (IPVS).
//!
//! [`Vm::new`] finds (or, as root with apt-get, installs) `qemu-system-x86`,
//! `linux-image-cloud-amd64`, `busybox-static`, `ipvsadm`, `bird2` and `frr`, and builds a base
//! initramfs once per set of inputs, cached under `<target>/vm/base-<hash>.cpio`:
//!
//! * busybox-static with its applet links in `/bin` (except `sh` and `ip`: dash is `/bin/sh`,
//!   iproute2's `ip` is `/usr/sbin/ip`, because busybox `sh` would run its own `ip` applet);
//! * the IPVS modules (every scheduler), `nf_conntrack`, `veth`, `bridge`, `ipip`, `ip6_tunnel`
//!   and their dependencies, at their `/lib/modules/<ver>/…` paths with a trimmed `modules.dep`,
//!   and `/modules.order` listing them in load order (dependencies first);
//! * dash, bash, `ip`, `ipvsadm`, `keepalived`, BIRD's `bird` and `birdc` (package bird2, the
//!   routing daemon of the ECMP lab), FRR's `zebra`, `bgpd` and `bfdd` (package frr, the
//!   router of its FRR variant) with every shared library `ldd` lists, copied to the same
//!   paths.
//!
//! Each [`Vm::run`] appends a small second archive (newc archives may be concatenated; the
//! uncompressed form unpacks faster under TCG than one gzip'd image) holding `/init`, the test
//! script as `/test.sh`, the rkeepalived binary at `/usr/sbin/rkeepalived` and any extra files.
//! `/init` mounts proc/sys/dev/run/tmp, loads the modules, runs `/bin/sh /test.sh`, prints
//! `@@RKVM-EXIT <code>@@` and powers off. The VM has no network device at all (no `-netdev`):
//! whatever the test does stays inside it.
//!
//! Boot: `qemu-system-x86_64 -accel tcg -m 1024 -smp $RKVM_SMP (default 1, or
//! [`Vm::with_default_vcpus`]) -nographic -no-reboot -kernel … -initrd …
//! -append "console=ttyS0 quiet panic=-1"` (never KVM: it hangs on these machines).

use super::{Daemon, find_program, skip};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash as _, Hasher as _};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Line printed by `/init` after the test script: `@@RKVM-EXIT <code>@@`.
const EXIT_MARKER: &str = "@@RKVM-EXIT ";
/// Line printed by `/init` right before the test script starts.
const START_MARKER: &str = "@@RKVM-START@@";
/// Bumped whenever the layout of the base image changes, so stale caches are not reused.
const LAYOUT_VERSION: u32 = 1;
/// Debian packages the VM needs.
const PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "linux-image-cloud-amd64",
    "busybox-static",
    "ipvsadm",
    "keepalived",
    "iproute2",
    "dash",
    "bird2",
    "frr",
];
/// Modules loaded at boot (with their dependencies, resolved through `modules.dep`).
const MODULES: &[&str] = &[
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_mh",
    "nf_conntrack",
    "veth",
    "bridge",
    "ipip",
    "ip6_tunnel",
];
/// Programs copied with their libraries.
const PROGRAMS: &[&str] = &[
    "/usr/bin/dash",
    "/usr/bin/bash",
    "/usr/sbin/ip",
    "/usr/sbin/ipvsadm",
    "/usr/sbin/keepalived",
    "/usr/sbin/bird",
    "/usr/sbin/birdc",
    "/usr/lib/frr/zebra",
    "/usr/lib/frr/bgpd",
    "/usr/lib/frr/bfdd",
];

/// What a VM run produced.
#[derive(Debug)]
pub struct VmOutput {
    /// What the test script wrote (stdout and stderr, interleaved as on the serial console),
    /// without the boot noise before it and the marker after it; `\r` removed.
    pub stdout: String,
    /// The script's exit status, or `None` if the VM did not reach the end marker (timeout,
    /// kernel panic).
    pub exit_code: Option<i32>,
    /// Wall time from starting qemu to the script's first output marker.
    pub boot_time: Option<Duration>,
    /// Wall time of the whole qemu run.
    pub total_time: Duration,
    /// Everything qemu printed, for diagnosis.
    pub console: String,
}

impl VmOutput {
    /// Panics with the console log unless the script exited 0.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.exit_code,
            Some(0),
            "VM test script failed; console:\n{}",
            self.console
        );
        self
    }
}

/// A bootable VM description: kernel plus cached base initramfs.
pub struct Vm {
    kernel: PathBuf,
    base: PathBuf,
    work: PathBuf,
    rkeepalived: Option<PathBuf>,
    /// Guest vCPUs when `RKVM_SMP` is not set.
    default_vcpus: u32,
}

/// A file to place in the guest: `(guest path, contents, mode)`.
pub struct GuestFile {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
}

impl GuestFile {
    /// A copy of the host file `host` (e.g. `std::env::current_exe()`), mode 0755.
    pub fn from_host(path: &str, host: &Path) -> GuestFile {
        GuestFile {
            path: path.to_owned(),
            data: read_stripped(host),
            mode: 0o755,
        }
    }

    /// A regular file with mode 0644.
    pub fn new(path: &str, data: impl Into<Vec<u8>>) -> GuestFile {
        GuestFile {
            path: path.to_owned(),
            data: data.into(),
            mode: 0o644,
        }
    }
}

impl Vm {
    /// Prepares the VM for `test`, or returns `None` after following the [`skip`] rule when a
    /// prerequisite is missing (not root, no qemu/kernel and no way to install them).
    pub fn new(test: &str) -> Option<Vm> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skip(test, "needs root (reads /boot and installs packages)");
            return None;
        }
        if let Err(why) = ensure_packages() {
            skip(test, &why);
            return None;
        }
        let Some(kernel) = cloud_kernel() else {
            skip(test, "no /boot/vmlinuz-*-cloud-amd64");
            return None;
        };
        let work = target_dir().join("vm");
        std::fs::create_dir_all(&work).expect("create <target>/vm");
        let base = match build_base(&kernel, &work) {
            Ok(p) => p,
            Err(e) => {
                skip(test, &format!("cannot build the VM image: {e}"));
                return None;
            }
        };
        let rkeepalived = Daemon::Rkeepalived.binary().ok();
        Some(Vm {
            kernel,
            base,
            work,
            rkeepalived,
            default_vcpus: 1,
        })
    }

    /// [`Vm::new`] for a test that runs rkeepalived in the guest: `None` (after the [`skip`]
    /// rule) also when the rkeepalived binary was not built.
    pub fn with_rkeepalived(test: &str) -> Option<Vm> {
        let vm = Vm::new(test)?;
        if !vm.has_rkeepalived() {
            skip(test, "rkeepalived binary not built");
            return None;
        }
        Some(vm)
    }

    /// Boots with `n` vCPUs unless `RKVM_SMP` says otherwise (benchmarks: 2, as the issues'
    /// reference figures).
    pub fn with_default_vcpus(mut self, n: u32) -> Vm {
        self.default_vcpus = n.clamp(1, 8);
        self
    }

    /// The guest's vCPU count: `RKVM_SMP` (1 to 8) if set, else the default (1 unless
    /// [`Vm::with_default_vcpus`]).
    pub fn vcpus(&self) -> u32 {
        std::env::var("RKVM_SMP")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|n| (1..=8).contains(n))
            .unwrap_or(self.default_vcpus)
    }

    /// True when the rkeepalived binary was found and is copied into the guest.
    pub fn has_rkeepalived(&self) -> bool {
        self.rkeepalived.is_some()
    }

    /// Boots the VM, runs `script` with `/bin/sh` (dash) and returns its output. The VM is
    /// killed after `timeout`.
    pub fn run(&self, script: &str, timeout: Duration) -> VmOutput {
        self.run_with(script, &[], timeout)
    }

    /// As [`Vm::run`], with extra files placed in the guest first.
    pub fn run_with(&self, script: &str, files: &[GuestFile], timeout: Duration) -> VmOutput {
        let mut cpio = Cpio::default();
        cpio.file("init", INIT.as_bytes(), 0o755);
        cpio.file("test.sh", script.as_bytes(), 0o755);
        if let Some(bin) = &self.rkeepalived {
            let data = read_stripped(bin);
            cpio.file("usr/sbin/rkeepalived", &data, 0o755);
        }
        for f in files {
            cpio.parents(f.path.trim_start_matches('/'));
            cpio.file(f.path.trim_start_matches('/'), &f.data, f.mode);
        }
        let tail = cpio.finish();
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .tempdir_in(&self.work)
            .expect("tempdir");
        let initrd = dir.path().join("initrd.cpio");
        {
            let mut out = std::fs::File::create(&initrd).expect("create initrd");
            let mut base = std::fs::File::open(&self.base).expect("open base image");
            std::io::copy(&mut base, &mut out).expect("copy base image");
            out.write_all(&tail).expect("write run archive");
        }
        boot(&self.kernel, &initrd, self.vcpus(), timeout)
    }
}

/// The guest's `/init` (run by dash).
const INIT: &str = r#"#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
mkdir -p /run/netns /var/run/keepalived
for m in $(cat /modules.order); do insmod "$m" || echo "insmod $m failed"; done
ip link set lo up
echo "@@RKVM-START@@"
/bin/sh /test.sh </dev/null 2>&1
rc=$?
echo "@@RKVM-EXIT $rc@@"
poweroff -f
sleep 5
"#;

/// An executable's bytes without its debug information (`objcopy --strip-debug`; the file
/// as it is when objcopy is missing): a debug test binary is ~90 MB, most of it DWARF, and
/// the guest holds the archive and its unpacked copy in RAM.
fn read_stripped(host: &Path) -> Vec<u8> {
    let tmp = tempfile::NamedTempFile::new().expect("temp file");
    let stripped = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(host)
        .arg(tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let from = if stripped { tmp.path() } else { host };
    std::fs::read(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()))
}

fn boot(kernel: &Path, initrd: &Path, vcpus: u32, timeout: Duration) -> VmOutput {
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", "tcg", "-m", "1024", "-nographic", "-no-reboot"])
        .args(["-smp", &vcpus.to_string()])
        .args(["-nodefaults", "-serial", "stdio", "-display", "none"])
        .arg("-kernel")
        .arg(kernel)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu-system-x86_64");
    let mut stdout = child.stdout.take().expect("qemu stdout");
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut console = Vec::new();
    let mut boot_time = None;
    let deadline = start + timeout;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok((at, chunk)) => {
                console.extend_from_slice(&chunk);
                if boot_time.is_none() && contains(&console, START_MARKER.as_bytes()) {
                    boot_time = Some(at - start);
                }
            }
            Err(_) => break, // timeout or qemu closed stdout
        }
    }
    // qemu exits by itself after poweroff; kill it (by its PID) if it did not.
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    let _ = reader.join();
    while let Ok((_, chunk)) = rx.try_recv() {
        console.extend_from_slice(&chunk);
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let console = String::from_utf8_lossy(&console).replace('\r', "") + &err;
    let (stdout, exit_code) = split_output(&console);
    VmOutput {
        stdout,
        exit_code,
        boot_time,
        total_time: start.elapsed(),
        console,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The script's output between the markers, and its exit code.
/// Splits a guest script's output into sections: a line `@@ NAME` starts section NAME, the
/// lines up to the next such line are its text.
pub fn sections(stdout: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut name: Option<String> = None;
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("@@ ") {
            name = Some(n.trim().to_owned());
            out.insert(n.trim().to_owned(), String::new());
        } else if let Some(n) = &name {
            let s: &mut String = out.get_mut(n).expect("section inserted");
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

pub fn split_output(console: &str) -> (String, Option<i32>) {
    let body = match console.find(START_MARKER) {
        Some(i) => &console[i + START_MARKER.len()..],
        None => return (String::new(), None),
    };
    let body = body.strip_prefix('\n').unwrap_or(body);
    match body.find(EXIT_MARKER) {
        Some(i) => {
            let code = body[i + EXIT_MARKER.len()..]
                .split("@@")
                .next()
                .and_then(|s| s.trim().parse().ok());
            (body[..i].to_owned(), code)
        }
        None => (body.to_owned(), None),
    }
}

/// `<target>` of the running test binary (`<target>/<profile>/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir)
}

fn cloud_kernel() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-") && n.ends_with("-cloud-amd64"))
        })
        .filter(|p| {
            let v = kernel_version(p);
            Path::new("/lib/modules")
                .join(v)
                .join("modules.dep")
                .is_file()
        })
        .collect();
    found.sort();
    found.pop()
}

fn kernel_version(vmlinuz: &Path) -> String {
    vmlinuz
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
        .unwrap_or_default()
        .to_owned()
}

/// Installs the missing [`PACKAGES`] with apt-get (once per process).
fn ensure_packages() -> Result<(), String> {
    static RESULT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    RESULT
        .get_or_init(|| {
            let missing: Vec<&str> = PACKAGES
                .iter()
                .copied()
                .filter(|p| {
                    !Command::new("dpkg-query")
                        .args(["-W", "-f=${Status}", p])
                        .output()
                        .is_ok_and(|o| {
                            String::from_utf8_lossy(&o.stdout).contains("install ok installed")
                        })
                })
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if find_program("apt-get").is_none() {
                return Err(format!("missing packages {missing:?} and no apt-get"));
            }
            let run = |args: &[&str]| {
                Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .stdout(Stdio::null())
                    .status()
                    .map_err(|e| e.to_string())
            };
            run(&["update", "-qq"])?;
            let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
            args.extend(&missing);
            match run(&args)? {
                s if s.success() => Ok(()),
                s => Err(format!("apt-get install {missing:?} failed: {s}")),
            }
        })
        .clone()
}

/// Builds (or finds in the cache) the base archive for `kernel`.
fn build_base(kernel: &Path, work: &Path) -> Result<PathBuf, String> {
    // Tests of one crate run on parallel threads: the first builds the image, the others wait
    // for it and find it cached (two builds wrote one temporary file, and the second rename
    // failed with ENOENT on a fresh target).
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let version = kernel_version(kernel);
    let moddir = Path::new("/lib/modules").join(&version);
    let dep_text = std::fs::read_to_string(moddir.join("modules.dep"))
        .map_err(|e| format!("modules.dep: {e}"))?;
    let deps = parse_modules_dep(&dep_text);
    let order = load_order(&deps, MODULES)?;
    let busybox = find_program("busybox").ok_or("busybox is not installed")?;
    let mut files: BTreeSet<PathBuf> = PROGRAMS.iter().map(PathBuf::from).collect();
    for p in PROGRAMS {
        files.extend(shared_libraries(Path::new(p))?);
    }
    // The libraries of the binaries each run adds (rkeepalived, and this test binary, which a
    // test may run inside the guest); they change with every build, their libraries do not.
    let mut extra: Vec<PathBuf> = Daemon::Rkeepalived.binary().into_iter().collect();
    extra.extend(std::env::current_exe().ok());
    for p in extra {
        files.extend(
            shared_libraries(&p)?
                .into_iter()
                .filter(|l| !l.starts_with("/work")),
        );
    }

    // Cache key: every input's path, size and mtime.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    LAYOUT_VERSION.hash(&mut h);
    let inputs = files
        .iter()
        .cloned()
        .chain([kernel.to_path_buf(), busybox.clone()])
        .chain(order.iter().map(|m| moddir.join(m)));
    for p in inputs {
        let md = std::fs::metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        (p, md.len(), md.mtime()).hash(&mut h);
    }
    let out = work.join(format!("base-{:016x}.cpio", h.finish()));
    if out.is_file() {
        return Ok(out);
    }

    let mut cpio = Cpio::default();
    for d in [
        "bin", "sbin", "usr", "usr/bin", "usr/sbin", "lib", "lib64", "etc", "proc", "sys", "dev",
        "run", "tmp", "var", "root",
    ] {
        cpio.dir(d);
    }
    cpio.symlink("var/run", "/run");
    cpio.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644);
    cpio.file("etc/group", b"root:x:0:\n", 0o644);
    cpio.file(
        "etc/protocols",
        b"ip 0 IP\ntcp 6 TCP\nudp 17 UDP\nsctp 132 SCTP\n",
        0o644,
    );
    cpio.file(
        "bin/busybox",
        &std::fs::read(&busybox).map_err(|e| e.to_string())?,
        0o755,
    );
    for p in &files {
        let data = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let rel = p.to_string_lossy().trim_start_matches('/').to_owned();
        cpio.parents(&rel);
        cpio.file(&rel, &data, 0o755);
    }
    cpio.symlink("bin/sh", "/usr/bin/dash");
    cpio.symlink("bin/bash", "/usr/bin/bash");
    let list = Command::new(&busybox)
        .arg("--list")
        .output()
        .map_err(|e| e.to_string())?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || ["sh", "ip", "bash", "busybox"].contains(&applet) {
            continue;
        }
        if files
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n == applet))
        {
            continue;
        }
        cpio.symlink(&format!("bin/{applet}"), "/bin/busybox");
    }
    let mut order_text = String::new();
    let mut dep_lines = String::new();
    for m in &order {
        let rel = format!("lib/modules/{version}/{m}");
        cpio.parents(&rel);
        let data = std::fs::read(moddir.join(m)).map_err(|e| format!("{m}: {e}"))?;
        cpio.file(&rel, &data, 0o644);
        order_text.push_str(&format!("/{rel}\n"));
        dep_lines.push_str(&format!("{m}: {}\n", deps[m].join(" ")));
    }
    cpio.file("modules.order", order_text.as_bytes(), 0o644);
    cpio.file(
        &format!("lib/modules/{version}/modules.dep"),
        dep_lines.as_bytes(),
        0o644,
    );
    let tmp = out.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, cpio.finish()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// `modules.dep` as module path → its dependencies (paths relative to the modules dir).
pub fn parse_modules_dep(text: &str) -> BTreeMap<String, Vec<String>> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(m, d)| {
            (
                m.trim().to_owned(),
                d.split_whitespace().map(str::to_owned).collect(),
            )
        })
        .collect()
}

/// The module files to insmod for `wanted` (module names), dependencies first.
pub fn load_order(
    deps: &BTreeMap<String, Vec<String>>,
    wanted: &[&str],
) -> Result<Vec<String>, String> {
    fn visit(
        m: &str,
        deps: &BTreeMap<String, Vec<String>>,
        seen: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !seen.insert(m.to_owned()) {
            return;
        }
        // modules.dep lists every (transitive) dependency; modprobe loads them last to first.
        for d in deps.get(m).into_iter().flatten().rev() {
            visit(d, deps, seen, out);
        }
        out.push(m.to_owned());
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for name in wanted {
        let file = deps
            .keys()
            .find(|k| {
                Path::new(k)
                    .file_name()
                    .and_then(|f| f.to_str())
                    .and_then(|f| f.split('.').next())
                    == Some(name)
            })
            .ok_or_else(|| format!("module {name} not in modules.dep"))?;
        visit(file, deps, &mut seen, &mut out);
    }
    Ok(out)
}

/// The shared libraries (and the ELF interpreter) `ldd` lists for `program`.
fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

/// A newc ("070701") cpio archive writer.
#[derive(Default)]
struct Cpio {
    buf: Vec<u8>,
    ino: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.ino += 1;
        let header = format!(
            "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            data.len(),
            0,
            0,
            0,
            0,
            name.len() + 1,
            0
        );
        self.buf.extend_from_slice(header.as_bytes());
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn dir(&mut self, name: &str) {
        if self.dirs.insert(name.to_owned()) {
            self.entry(name, 0o040755, &[]);
        }
    }

    /// Creates the directories above `path`.
    fn parents(&mut self, path: &str) {
        let p = Path::new(path);
        let mut ancestors: Vec<&Path> = p.ancestors().skip(1).collect();
        ancestors.reverse();
        for a in ancestors {
            let s = a.to_string_lossy();
            if !s.is_empty() {
                self.dir(&s);
            }
        }
    }

    fn file(&mut self, name: &str, data: &[u8], perm: u32) {
        self.entry(name, 0o100000 | (perm & 0o7777), data);
    }

    fn symlink(&mut self, name: &str, target: &str) {
        self.entry(name, 0o120777, target.as_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.buf
    }
}
