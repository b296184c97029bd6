//! Which allocator serves `malloc` here: the library `malloc` resolves to, cross-checked with
//! the allocator API that lives in that same library.
//!
//! An allocator's API being present is not enough: a binary with tikv-jemallocator exports
//! `_rjem_mallctl` while glibc still serves `malloc`, and glibc's `mallinfo2` resolves whatever
//! serves `malloc`. So an allocator counts only when its API symbol and `malloc` live in the same
//! object (`dladdr`'s base address). Runs once, in `start`: `dlsym` and `dlopen` may allocate.

use std::ffi::{c_void, CStr};

use crate::figure::Allocator;
use crate::source::Source;

/// What `detect` found: the allocator, how to read it, where `malloc` lives.
pub struct Detected {
    pub allocator: Allocator,
    pub source: Source,
    /// Path of the object `malloc` resolves to (empty when `dladdr` cannot say).
    pub malloc_library: Vec<u8>,
}

pub fn detect() -> Detected {
    let malloc = symbol(c"malloc").and_then(definition);
    let home = malloc.and_then(object_of);
    let malloc_library = malloc.and_then(library_of).unwrap_or_default();
    let served = |names: &[&CStr]| -> Option<*mut c_void> {
        let home = home?;
        names
            .iter()
            .filter_map(|n| symbol(n))
            .find(|s| object_of(*s) == Some(home))
    };
    let source = if let Some(f) = served(&[c"mallctl", c"_rjem_mallctl"]) {
        Source::jemalloc(f)
    } else if let Some(f) = served(&[c"MallocExtension_GetNumericProperty"]) {
        Source::tcmalloc(f)
    } else if let (Some(_), Some(f)) = (served(&[c"mi_version"]), served(&[c"mi_process_info"])) {
        Source::mimalloc(f)
    } else if served(&[c"mallinfo2"]).is_some() {
        Source::Glibc
    } else {
        Source::Unknown
    };
    Detected {
        allocator: source.allocator(),
        source,
        malloc_library,
    }
}

/// The allocators' own API symbols, preloaded allocators first: `glibc`'s `mallinfo2` is last
/// because a preloaded allocator comes before libc in the lookup order.
const APIS: [&CStr; 5] = [
    c"mallctl",
    c"_rjem_mallctl",
    c"MallocExtension_GetNumericProperty",
    c"mi_process_info",
    c"mallinfo2",
];

/// Where `malloc` is defined, from what `dlsym` returned for it. Usually that is the definition;
/// but a non-PIE executable that takes `malloc`'s address makes its own PLT entry the canonical
/// address (Debian's `/usr/bin/python3` does), an undefined symbol there. Then the definition is
/// the first allocator library that defines `malloc` itself.
fn definition(found: *mut c_void) -> Option<*mut c_void> {
    if !undefined_there(found) {
        return Some(found);
    }
    APIS.iter()
        .filter_map(|api| library_of(symbol(api)?))
        .find_map(|lib| malloc_defined_in(&lib))
}

/// Whether `addr` is a symbol its object does not define (a PLT stub): `dladdr1` gives the
/// symbol table entry, whose section is `SHN_UNDEF`.
fn undefined_there(addr: *mut c_void) -> bool {
    // <dlfcn.h> and <elf.h>; not in the libc crate.
    const RTLD_DL_SYMENT: libc::c_int = 1;
    const SHN_UNDEF: u16 = 0;
    // SAFETY: dladdr1 fills `info` and points `sym` at the loader's own symbol table entry.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let mut sym: *mut c_void = std::ptr::null_mut();
        if libc::dladdr1(addr, &mut info, &mut sym, RTLD_DL_SYMENT) == 0 || sym.is_null() {
            return false;
        }
        (*(sym as *const libc::Elf64_Sym)).st_shndx == SHN_UNDEF
    }
}

/// `malloc` as the loaded object at `path` defines it, if it does.
fn malloc_defined_in(path: &[u8]) -> Option<*mut c_void> {
    let path = std::ffi::CString::new(path).ok()?;
    // SAFETY: RTLD_NOLOAD only finds an object already loaded; dlsym on its handle looks in it
    // first; the handle's reference is dropped again.
    unsafe {
        let handle = libc::dlopen(path.as_ptr(), libc::RTLD_NOLOAD | libc::RTLD_LAZY);
        if handle.is_null() {
            return None;
        }
        let found = libc::dlsym(handle, c"malloc".as_ptr());
        libc::dlclose(handle);
        let defined = !found.is_null()
            && library_of(found).as_deref() == Some(path.as_bytes())
            && !undefined_there(found);
        defined.then_some(found)
    }
}

fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with a NUL-terminated name; a null result means absent.
    let s = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!s.is_null()).then_some(s)
}

fn info(addr: *mut c_void) -> Option<libc::Dl_info> {
    // SAFETY: Dl_info is plain data; dladdr fills it and returns 0 when it cannot.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        (libc::dladdr(addr, &mut info) != 0).then_some(info)
    }
}

/// The base address of the object `addr` lives in: the same object has the same base.
pub(crate) fn object_of(addr: *mut c_void) -> Option<usize> {
    info(addr).map(|i| i.dli_fbase as usize)
}

fn library_of(addr: *mut c_void) -> Option<Vec<u8>> {
    let name = info(addr)?.dli_fname;
    // SAFETY: dladdr's file name is a NUL-terminated string owned by the loader.
    (!name.is_null()).then(|| unsafe { CStr::from_ptr(name) }.to_bytes().to_vec())
}
