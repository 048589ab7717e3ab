//! What a process keeps resident of its program: the read-only pages it no longer needs are
//! given back to the page cache (issue 11, "Memory").

/// Unmaps, from this process only, the pages of the program's and its libraries' read-only
/// segments (code, constants, relocation tables), and returns how many bytes it asked for.
/// They stay in the page cache, and what the process runs afterwards maps again from there
/// (a minor fault, no disk read while the pages are cached).
///
/// A process keeps every page it ever ran mapped, and `ps`/`top` count them in its resident
/// set. Two callers:
/// * the supervisor, after each fork: it touched about 3 MiB while starting (the dynamic
///   loader's relocation, argument parsing, logging set-up) and from then on only waits. The
///   daemon maps most of those pages itself; what the supervisor runs later (a signal
///   forwarded, the release after the daemon died) comes back from the page cache. A fork does
///   not copy a read-only file mapping's page table entries, so the daemon is not affected;
/// * the daemon, once started and after each reload: the configuration's parse and the set-up
///   ran once. The functions a running daemon executes are packed at the start of its text
///   (`link/hot-text.ld`, running ones first), so the pages it maps again are few.
///
/// Until memory runs short this is what `ps` shows, not what the machine holds: the pages stay
/// cached. Unmapped, they are the first the kernel reclaims when it needs memory.
///
/// Writable segments are skipped (their relocated pages, `.data.rel.ro` included, are this
/// process's own copies), and so are the vDSO and an object with text relocations (its
/// read-only pages were written by the loader). Safe with other threads running: they map
/// again what they touch. A software breakpoint or a uprobe set in this process before the
/// call is lost with its page (a debugger or a tracer sets it again).
///
/// Never inlined: scripts/hot-text has callgrind dump its counts after it (the start is over).
#[inline(never)]
pub fn shed_read_only_pages() -> usize {
    /// Collects the whole pages of each object's read-only `PT_LOAD` segments into `ranges`.
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        ranges: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr hands a valid info and the pointer given to it below.
        let (info, ranges) = unsafe { (&*info, &mut *ranges.cast::<Vec<(usize, usize)>>()) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: getauxval has no preconditions.
        let (vdso, page) = unsafe {
            (
                libc::getauxval(libc::AT_SYSINFO_EHDR) as usize,
                libc::getauxval(libc::AT_PAGESZ).max(4096) as usize,
            )
        };
        let bias = info.dlpi_addr as usize;
        // SAFETY: the loader's program headers of this object, dlpi_phnum of them.
        let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        let is_vdso = headers.iter().any(|h| {
            let start = bias + h.p_vaddr as usize;
            h.p_type == libc::PT_LOAD && (start..start + h.p_memsz as usize).contains(&vdso)
        });
        let text_relocated = headers
            .iter()
            .filter(|h| h.p_type == libc::PT_DYNAMIC)
            .any(|h| {
                let dynamic = (bias + h.p_vaddr as usize) as *const [u64; 2];
                // SAFETY: the loader mapped this object's dynamic section there (readable);
                // it is read up to its DT_NULL.
                asks_for_text_relocations((0..4096).map(|i| unsafe { dynamic.add(i).read() }))
            });
        if is_vdso || text_relocated {
            return 0;
        }
        for h in headers {
            if h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W == 0 {
                let start = bias + h.p_vaddr as usize;
                let (start, end) = (
                    start.next_multiple_of(page),
                    (start + h.p_memsz as usize) / page * page,
                );
                if end > start {
                    ranges.push((start, end));
                }
            }
        }
        0
    }
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(16);
    // SAFETY: `each` only reads the headers and pushes to `ranges`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut ranges).cast()) };
    // All collected first: the headers read above sit in these pages, and are not faulted
    // back in by reading them after their segment was shed.
    let mut total = 0;
    for (start, end) in ranges {
        let Some(ptr) = std::ptr::NonNull::new(start as *mut libc::c_void) else {
            continue;
        };
        // SAFETY: a read-only file mapping holds no private copy: its pages come back from
        // the file, unchanged, when next touched.
        let shed = unsafe {
            nix::sys::mman::madvise(ptr, end - start, nix::sys::mman::MmapAdvise::MADV_DONTNEED)
        };
        if shed.is_ok() {
            total += end - start;
        }
    }
    total
}

/// Whether an object's dynamic section, its `Elf64_Dyn` entries as `[tag, value]` (elf.h),
/// asks for text relocations (`DT_TEXTREL`, or `DF_TEXTREL` in `DT_FLAGS`): the loader then
/// wrote into the object's read-only segments, whose pages are private copies. Read up to
/// `DT_NULL`; without one, it answers yes.
fn asks_for_text_relocations(entries: impl IntoIterator<Item = [u64; 2]>) -> bool {
    const DT_NULL: u64 = 0;
    const DT_TEXTREL: u64 = 22;
    const DT_FLAGS: u64 = 30;
    const DF_TEXTREL: u64 = 0x4;
    for [tag, value] in entries {
        match tag {
            DT_NULL => return false,
            DT_TEXTREL => return true,
            DT_FLAGS if value & DF_TEXTREL != 0 => return true,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident KiB of this process's read-only file mappings (`/proc/self/smaps`).
    fn read_only_file_rss() -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut counted = false;
        let mut kib = 0;
        for line in smaps.lines() {
            let mut f = line.split_whitespace();
            match (f.next(), f.next()) {
                (Some("Rss:"), Some(v)) if counted => kib += v.parse::<u64>().unwrap(),
                (Some(range), Some(perms)) if range.contains('-') && perms.len() == 4 => {
                    counted = !perms.contains('w')
                        && line
                            .split_whitespace()
                            .nth(5)
                            .is_some_and(|p| p.starts_with('/'));
                }
                _ => {}
            }
        }
        kib
    }

    #[test]
    fn an_object_with_text_relocations_is_recognised() {
        assert!(asks_for_text_relocations([[1, 5], [22, 0], [0, 0]]));
        assert!(asks_for_text_relocations([[30, 0x4 | 0x8], [0, 0]]));
        assert!(!asks_for_text_relocations([
            [30, 0x8],
            [1, 5],
            [0, 0],
            [22, 0]
        ]));
        // No DT_NULL within the bound: not trusted.
        assert!(asks_for_text_relocations([[1, 5]]));
    }

    #[test]
    fn shedding_unmaps_the_read_only_pages_and_the_code_still_runs() {
        // Touch some code and constants first, so that there is something to shed.
        let _ = format!(
            "{:?}",
            std::path::Path::new("/run/k.pid")
                .components()
                .collect::<Vec<_>>()
        );
        let before = read_only_file_rss();
        let asked = shed_read_only_pages();
        let after = read_only_file_rss();
        assert!(asked > 1 << 20, "asked to shed only {asked} bytes");
        // The pages run since (this test, the smaps read) came back; most did not.
        assert!(
            after * 2 < before,
            "read-only resident KiB before {before}, after {after}"
        );
        // And what was shed still runs, from the file.
        assert!(read_only_file_rss() > 0);
    }
}
