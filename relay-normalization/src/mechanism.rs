//! The names of `mechanism.meta` (normalization.md §7.5): errno, signal, Darwin signal code
//! and mach exception names from the OS tables.
//!
//! The OS hint comes from `debug_meta.sdk_info.sdk_name` when that is present (even when it
//! names no known OS: then there is no hint), else from `contexts.os.name`; both compared
//! case-insensitively: `ios`, `watchos`, `tvos`, `macos` → Darwin, `linux`, `android` →
//! Linux, `windows` → Windows. With a hint, missing `errno.name` and `signal.name` are filled,
//! and on Darwin a missing `signal.code_name`; `mach_exception.name` is filled with or without
//! a hint. Existing names are never replaced. The tables are those of normalization.md §7.5,
//! checked against `StoreNormalizer` 0.10.1 for every number below 150 (codes below 10).

use relay_event::schema::{Context, Event, MechanismMeta};
use relay_event::Annotated;

/// The operating system family that decides which tables apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OsHint {
    /// iOS, watchOS, tvOS, macOS.
    Darwin,
    /// Linux, Android.
    Linux,
    /// Windows.
    Windows,
}

impl OsHint {
    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "ios" | "watchos" | "tvos" | "macos" => Some(Self::Darwin),
            "linux" | "android" => Some(Self::Linux),
            "windows" => Some(Self::Windows),
            _ => None,
        }
    }

    /// The hint of `event`: its system SDK name, else its OS context's name.
    pub fn from_event(event: &Event) -> Option<Self> {
        let sdk_name = event
            .debug_meta
            .value()
            .and_then(|meta| meta.sdk_info.value())
            .and_then(|info| info.sdk_name.value());
        if let Some(sdk_name) = sdk_name {
            // A present SDK name decides alone (StoreNormalizer: `sdk_name: ""` → no hint).
            return Self::from_name(sdk_name);
        }
        match event.contexts.value()?.get("os")? {
            Context::Os(os) => Self::from_name(os.name.value()?),
            _ => None,
        }
    }
}

fn lookup(table: &[(i64, &'static str)], number: i64) -> Option<&'static str> {
    table
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, name)| *name)
}

fn fill(name: &mut Annotated<String>, found: Option<&str>) {
    if name.value().is_none() {
        if let Some(found) = found {
            name.set_value(Some(found.to_owned()));
        }
    }
}

/// Fills the missing names of `meta` for `os`.
pub fn normalize_mechanism_meta(meta: &mut MechanismMeta, os: Option<OsHint>) {
    if let Some(errno) = meta.errno.value_mut() {
        let table = match os {
            Some(OsHint::Linux) => Some(LINUX_ERRNOS),
            Some(OsHint::Darwin) => Some(DARWIN_ERRNOS),
            Some(OsHint::Windows) => Some(WINDOWS_ERRNOS),
            None => None,
        };
        if let (Some(table), Some(number)) = (table, errno.number.value()) {
            fill(&mut errno.name, lookup(table, *number));
        }
    }
    if let Some(signal) = meta.signal.value_mut() {
        let table = match os {
            Some(OsHint::Linux) => Some(LINUX_SIGNALS),
            Some(OsHint::Darwin) => Some(DARWIN_SIGNALS),
            _ => None,
        };
        if let (Some(table), Some(number)) = (table, signal.number.value().copied()) {
            fill(&mut signal.name, lookup(table, number));
            if os == Some(OsHint::Darwin) {
                if let Some(code) = signal.code.value().copied() {
                    let code_name = DARWIN_SIGNAL_CODES
                        .iter()
                        .find(|(s, c, _)| *s == number && *c == code)
                        .map(|(_, _, name)| *name);
                    fill(&mut signal.code_name, code_name);
                }
            }
        }
    }
    if let Some(mach) = meta.mach_exception.value_mut() {
        if let Some(number) = mach.exception.value().copied() {
            fill(&mut mach.name, lookup(MACH_EXCEPTIONS, number));
        }
    }
}

/// Linux signal names (normalization.md §7.5).
const LINUX_SIGNALS: &[(i64, &str)] = &[
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGSTKFLT"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
    (21, "SIGTTIN"),
    (22, "SIGTTOU"),
    (23, "SIGURG"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (28, "SIGWINCH"),
    (29, "SIGIO"),
    (30, "SIGPWR"),
    (31, "SIGSYS"),
];

/// Darwin signal names (normalization.md §7.5).
const DARWIN_SIGNALS: &[(i64, &str)] = &[
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGPOLL"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGBUS"),
    (11, "SIGSEGV"),
    (12, "SIGSYS"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGURG"),
    (17, "SIGSTOP"),
    (18, "SIGTSTP"),
    (19, "SIGCONT"),
    (20, "SIGCHLD"),
    (21, "SIGTTIN"),
    (22, "SIGTTOU"),
    (23, "SIGIO"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (28, "SIGWINCH"),
    (29, "SIGINFO"),
    (30, "SIGUSR1"),
    (31, "SIGUSR2"),
];

/// Darwin signal codes: (signal, code, name).
const DARWIN_SIGNAL_CODES: &[(i64, i64, &str)] = &[
    (4, 0, "ILL_NOOP"),
    (4, 1, "ILL_ILLOPC"),
    (4, 2, "ILL_ILLTRP"),
    (4, 3, "ILL_PRVOPC"),
    (4, 4, "ILL_ILLOPN"),
    (4, 5, "ILL_ILLADR"),
    (4, 6, "ILL_PRVREG"),
    (4, 7, "ILL_COPROC"),
    (4, 8, "ILL_BADSTK"),
    (8, 0, "FPE_NOOP"),
    (8, 1, "FPE_FLTDIV"),
    (8, 2, "FPE_FLTOVF"),
    (8, 3, "FPE_FLTUND"),
    (8, 4, "FPE_FLTRES"),
    (8, 5, "FPE_FLTINV"),
    (8, 6, "FPE_FLTSUB"),
    (8, 7, "FPE_INTDIV"),
    (8, 8, "FPE_INTOVF"),
    (11, 0, "SEGV_NOOP"),
    (11, 1, "SEGV_MAPERR"),
    (11, 2, "SEGV_ACCERR"),
    (10, 0, "BUS_NOOP"),
    (10, 1, "BUS_ADRALN"),
    (10, 2, "BUS_ADRERR"),
    (10, 3, "BUS_OBJERR"),
    (5, 1, "TRAP_BRKPT"),
    (5, 2, "TRAP_TRACE"),
    (20, 0, "CLD_NOOP"),
    (20, 1, "CLD_EXITED"),
    (20, 2, "CLD_KILLED"),
    (20, 3, "CLD_DUMPED"),
    (20, 4, "CLD_TRAPPED"),
    (20, 5, "CLD_STOPPED"),
    (20, 6, "CLD_CONTINUED"),
    (7, 1, "POLL_IN"),
    (7, 2, "POLL_OUT"),
    (7, 3, "POLL_MSG"),
    (7, 4, "POLL_ERR"),
    (7, 5, "POLL_PRI"),
    (7, 6, "POLL_HUP"),
];

/// Mach exception names, whatever the OS (normalization.md §7.5).
const MACH_EXCEPTIONS: &[(i64, &str)] = &[
    (1, "EXC_BAD_ACCESS"),
    (2, "EXC_BAD_INSTRUCTION"),
    (3, "EXC_ARITHMETIC"),
    (4, "EXC_EMULATION"),
    (5, "EXC_SOFTWARE"),
    (6, "EXC_BREAKPOINT"),
    (7, "EXC_SYSCALL"),
    (8, "EXC_MACH_SYSCALL"),
    (9, "EXC_RPC_ALERT"),
    (10, "EXC_CRASH"),
    (11, "EXC_RESOURCE"),
    (12, "EXC_GUARD"),
    (13, "EXC_CORPSE_NOTIFY"),
];

/// Linux errno names (normalization.md §7.5).
const LINUX_ERRNOS: &[(i64, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (15, "ENOTBLK"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (25, "ENOTTY"),
    (26, "ETXTBSY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (32, "EPIPE"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (35, "EDEADLK"),
    (36, "ENAMETOOLONG"),
    (37, "ENOLCK"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (40, "ELOOP"),
    (42, "ENOMSG"),
    (43, "EIDRM"),
    (44, "ECHRNG"),
    (45, "EL2NSYNC"),
    (46, "EL3HLT"),
    (47, "EL3RST"),
    (48, "ELNRNG"),
    (49, "EUNATCH"),
    (50, "ENOCSI"),
    (51, "EL2HLT"),
    (52, "EBADE"),
    (53, "EBADR"),
    (54, "EXFULL"),
    (55, "ENOANO"),
    (56, "EBADRQC"),
    (57, "EBADSLT"),
    (59, "EBFONT"),
    (60, "ENOSTR"),
    (61, "ENODATA"),
    (62, "ETIME"),
    (63, "ENOSR"),
    (64, "ENONET"),
    (65, "ENOPKG"),
    (66, "EREMOTE"),
    (67, "ENOLINK"),
    (68, "EADV"),
    (69, "ESRMNT"),
    (70, "ECOMM"),
    (71, "EPROTO"),
    (72, "EMULTIHOP"),
    (73, "EDOTDOT"),
    (74, "EBADMSG"),
    (75, "EOVERFLOW"),
    (76, "ENOTUNIQ"),
    (77, "EBADFD"),
    (78, "EREMCHG"),
    (79, "ELIBACC"),
    (80, "ELIBBAD"),
    (81, "ELIBSCN"),
    (82, "ELIBMAX"),
    (83, "ELIBEXEC"),
    (84, "EILSEQ"),
    (85, "ERESTART"),
    (86, "ESTRPIPE"),
    (87, "EUSERS"),
    (88, "ENOTSOCK"),
    (89, "EDESTADDRREQ"),
    (90, "EMSGSIZE"),
    (91, "EPROTOTYPE"),
    (92, "ENOPROTOOPT"),
    (93, "EPROTONOSUPPORT"),
    (94, "ESOCKTNOSUPPORT"),
    (95, "EOPNOTSUPP"),
    (96, "EPFNOSUPPORT"),
    (97, "EAFNOSUPPORT"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (100, "ENETDOWN"),
    (101, "ENETUNREACH"),
    (102, "ENETRESET"),
    (103, "ECONNABORTED"),
    (104, "ECONNRESET"),
    (105, "ENOBUFS"),
    (106, "EISCONN"),
    (107, "ENOTCONN"),
    (108, "ESHUTDOWN"),
    (109, "ETOOMANYREFS"),
    (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"),
    (112, "EHOSTDOWN"),
    (113, "EHOSTUNREACH"),
    (114, "EALREADY"),
    (115, "EINPROGRESS"),
    (116, "ESTALE"),
    (117, "EUCLEAN"),
    (118, "ENOTNAM"),
    (119, "ENAVAIL"),
    (120, "EISNAM"),
    (121, "EREMOTEIO"),
    (122, "EDQUOT"),
    (123, "ENOMEDIUM"),
    (124, "EMEDIUMTYPE"),
    (125, "ECANCELED"),
    (126, "ENOKEY"),
    (127, "EKEYEXPIRED"),
    (128, "EKEYREVOKED"),
    (129, "EKEYREJECTED"),
    (130, "EOWNERDEAD"),
    (131, "ENOTRECOVERABLE"),
    (132, "ERFKILL"),
    (133, "EHWPOISON"),
];

/// Darwin errno names (normalization.md §7.5).
const DARWIN_ERRNOS: &[(i64, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EDEADLK"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (15, "ENOTBLK"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (25, "ENOTTY"),
    (26, "ETXTBSY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (32, "EPIPE"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (35, "EAGAIN"),
    (36, "EINPROGRESS"),
    (37, "EALREADY"),
    (38, "ENOTSOCK"),
    (39, "EDESTADDRREQ"),
    (40, "EMSGSIZE"),
    (41, "EPROTOTYPE"),
    (42, "ENOPROTOOPT"),
    (43, "EPROTONOSUPPORT"),
    (44, "ESOCKTNOSUPPORT"),
    (45, "ENOTSUP"),
    (46, "EPFNOSUPPORT"),
    (47, "EAFNOSUPPORT"),
    (48, "EADDRINUSE"),
    (49, "EADDRNOTAVAIL"),
    (50, "ENETDOWN"),
    (51, "ENETUNREACH"),
    (52, "ENETRESET"),
    (53, "ECONNABORTED"),
    (54, "ECONNRESET"),
    (55, "ENOBUFS"),
    (56, "EISCONN"),
    (57, "ENOTCONN"),
    (58, "ESHUTDOWN"),
    (59, "ETOOMANYREFS"),
    (60, "ETIMEDOUT"),
    (61, "ECONNREFUSED"),
    (62, "ELOOP"),
    (63, "ENAMETOOLONG"),
    (64, "EHOSTDOWN"),
    (65, "EHOSTUNREACH"),
    (66, "ENOTEMPTY"),
    (67, "EPROCLIM"),
    (68, "EUSERS"),
    (69, "EDQUOT"),
    (70, "ESTALE"),
    (71, "EREMOTE"),
    (72, "EBADRPC"),
    (73, "ERPCMISMATCH"),
    (74, "EPROGUNAVAIL"),
    (75, "EPROGMISMATCH"),
    (76, "EPROCUNAVAIL"),
    (77, "ENOLCK"),
    (78, "ENOSYS"),
    (79, "EFTYPE"),
    (80, "EAUTH"),
    (81, "ENEEDAUTH"),
    (82, "EPWROFF"),
    (83, "EDEVERR"),
    (84, "EOVERFLOW"),
    (85, "EBADEXEC"),
    (86, "EBADARCH"),
    (87, "ESHLIBVERS"),
    (88, "EBADMACHO"),
    (89, "ECANCELED"),
    (90, "EIDRM"),
    (91, "ENOMSG"),
    (92, "EILSEQ"),
    (93, "ENOATTR"),
    (94, "EBADMSG"),
    (95, "EMULTIHOP"),
    (96, "ENODATA"),
    (97, "ENOLINK"),
    (98, "ENOSR"),
    (99, "ENOSTR"),
    (100, "EPROTO"),
    (101, "ETIME"),
    (102, "EOPNOTSUPP"),
    (103, "ENOPOLICY"),
    (104, "ENOTRECOVERABLE"),
    (105, "EOWNERDEAD"),
    (106, "EQFULL"),
];

/// Windows errno names (normalization.md §7.5).
const WINDOWS_ERRNOS: &[(i64, &str)] = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (25, "ENOTTY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (32, "EPIPE"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (36, "EDEADLK"),
    (38, "ENAMETOOLONG"),
    (39, "ENOLCK"),
    (40, "ENOSYS"),
    (41, "ENOTEMPTY"),
    (42, "EILSEQ"),
    (80, "STRUNCATE"),
    (100, "EADDRINUSE"),
    (101, "EADDRNOTAVAIL"),
    (102, "EAFNOSUPPORT"),
    (103, "EALREADY"),
    (104, "EBADMSG"),
    (105, "ECANCELED"),
    (106, "ECONNABORTED"),
    (107, "ECONNREFUSED"),
    (108, "ECONNRESET"),
    (109, "EDESTADDRREQ"),
    (110, "EHOSTUNREACH"),
    (111, "EIDRM"),
    (112, "EINPROGRESS"),
    (113, "EISCONN"),
    (114, "ELOOP"),
    (115, "EMSGSIZE"),
    (116, "ENETDOWN"),
    (117, "ENETRESET"),
    (118, "ENETUNREACH"),
    (119, "ENOBUFS"),
    (120, "ENODATA"),
    (121, "ENOLINK"),
    (122, "ENOMSG"),
    (123, "ENOPROTOOPT"),
    (124, "ENOSR"),
    (125, "ENOSTR"),
    (126, "ENOTCONN"),
    (127, "ENOTRECOVERABLE"),
    (128, "ENOTSOCK"),
    (129, "ENOTSUP"),
    (130, "EOPNOTSUPP"),
    (131, "EOTHER"),
    (132, "EOVERFLOW"),
    (133, "EOWNERDEAD"),
    (134, "EPROTO"),
    (135, "EPROTONOSUPPORT"),
    (136, "EPROTOTYPE"),
    (137, "ETIME"),
    (138, "ETIMEDOUT"),
    (139, "ETXTBSY"),
    (140, "EWOULDBLOCK"),
];

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json, Annotated};
    use serde_json::json;

    use super::*;
    use crate::exceptions::normalize_exceptions;

    /// Runs step 16 on an event with one exception of `meta` and the other top-level `extra`
    /// attributes; returns the normalized `meta`.
    fn run(meta: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
        let mut input = json!({"exception": {"values": [
            {"type": "X", "mechanism": {"type": "a", "meta": meta}}]}});
        if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            input.extend(extra.clone());
        }
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_exceptions(event);
        }
        to_json(&event).unwrap()["exception"]["values"][0]["mechanism"]["meta"].clone()
    }

    fn all() -> serde_json::Value {
        json!({"errno": {"number": 2}, "signal": {"number": 11, "code": 1},
            "mach_exception": {"exception": 1, "code": 0, "subcode": 0}})
    }

    fn os(name: &str) -> serde_json::Value {
        json!({"contexts": {"os": {"name": name}}})
    }

    #[test]
    fn names_per_os() {
        // StoreNormalizer 0.10.1 outputs.
        let mach = json!({"exception": 1, "code": 0, "subcode": 0, "name": "EXC_BAD_ACCESS"});
        assert_eq!(
            run(all(), json!({})),
            json!({"errno": {"number": 2}, "signal": {"number": 11, "code": 1},
                "mach_exception": mach})
        );
        assert_eq!(
            run(all(), os("iOS")),
            json!({"errno": {"number": 2, "name": "ENOENT"}, "signal": {"number": 11,
                "code": 1, "name": "SIGSEGV", "code_name": "SEGV_MAPERR"},
                "mach_exception": mach})
        );
        for linux in ["Linux", "Android"] {
            assert_eq!(
                run(all(), os(linux)),
                json!({"errno": {"number": 2, "name": "ENOENT"}, "signal": {"number": 11,
                    "code": 1, "name": "SIGSEGV"}, "mach_exception": mach})
            );
        }
        assert_eq!(
            run(all(), os("Windows")),
            json!({"errno": {"number": 2, "name": "ENOENT"}, "signal": {"number": 11,
                "code": 1}, "mach_exception": mach})
        );
        assert_eq!(
            run(all(), os("Ubuntu")),
            json!({"errno": {"number": 2}, "signal": {"number": 11, "code": 1},
                "mach_exception": mach})
        );
    }

    #[test]
    fn tables_differ_per_os() {
        let meta = json!({"errno": {"number": 35}, "signal": {"number": 10}});
        assert_eq!(
            run(meta.clone(), os("linux")),
            json!({"errno": {"number": 35, "name": "EDEADLK"},
                "signal": {"number": 10, "name": "SIGUSR1"}})
        );
        assert_eq!(
            run(meta, os("macos")),
            json!({"errno": {"number": 35, "name": "EAGAIN"},
                "signal": {"number": 10, "name": "SIGBUS"}})
        );
        assert_eq!(
            run(json!({"errno": {"number": 140}}), os("Windows")),
            json!({"errno": {"number": 140, "name": "EWOULDBLOCK"}})
        );
        assert_eq!(
            run(json!({"signal": {"number": 5, "code": 0}}), os("watchos")),
            json!({"signal": {"number": 5, "code": 0, "name": "SIGTRAP"}})
        );
    }

    #[test]
    fn the_sdk_name_decides_when_present() {
        // sdk_name wins over contexts.os, even when it names no known OS.
        let sdk = |name: &str| {
            json!({"debug_meta": {"sdk_info": {"sdk_name": name}},
                "contexts": {"os": {"name": "Linux"}}})
        };
        let signal = json!({"signal": {"number": 4, "code": 3}});
        assert_eq!(
            run(signal.clone(), sdk("macOS")),
            json!({"signal": {"number": 4, "code": 3, "name": "SIGILL",
                "code_name": "ILL_PRVOPC"}})
        );
        assert_eq!(run(signal.clone(), sdk("foo")), signal);
        // Without sdk_name, the OS context is used.
        let no_name = json!({"debug_meta": {"sdk_info": {"version_major": 1}},
            "contexts": {"os": {"name": "Linux"}}});
        assert_eq!(
            run(signal, no_name),
            json!({"signal": {"number": 4, "code": 3, "name": "SIGILL"}})
        );
    }

    #[test]
    fn existing_and_unknown_names_are_kept() {
        // StoreNormalizer 0.10.1: present names stay, a missing code_name is still filled.
        let meta = json!({"errno": {"number": 2, "name": "MINE"}, "signal": {"number": 11,
            "code": 1, "name": "SIGX"}, "mach_exception": {"exception": 99}});
        assert_eq!(
            run(meta, os("macos")),
            json!({"errno": {"number": 2, "name": "MINE"}, "signal": {"number": 11,
                "code": 1, "name": "SIGX", "code_name": "SEGV_MAPERR"},
                "mach_exception": {"exception": 99}})
        );
        let meta = json!({"errno": {"number": -2}, "signal": {"number": -1},
            "mach_exception": {"exception": 0}});
        assert_eq!(run(meta.clone(), os("macos")), meta);
        let meta = json!({"signal": {"code": 3}});
        assert_eq!(run(meta.clone(), os("macos")), meta);
    }
}
