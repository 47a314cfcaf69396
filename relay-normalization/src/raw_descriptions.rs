//! Parsing the `raw_description` of `os` and `runtime` contexts into their parts
//! (normalization.md §7 step 26, §7.10), before their descriptions are computed.
//!
//! * **os** (every context of type `os`, also `client_os`): only when neither `name` nor
//!   `version` is set (an empty string counts as set). The first matching rule applies:
//!
//!   | rule | sets |
//!   |---|---|
//!   | `^(Microsoft\s+)?Windows\s+(NT\s+)?<a.b.build>.*$` or `^Windows\s+\d+\s+\(<a.b.build>.*$` | name `Windows`, version from the build (2600–3790 `XP`, 6002 `Vista`, 7601 `7`, 9200 `8`, 9600 `8.1`, 10240–19044 `10`, 22000–22999 `11`, else `a.b.build`), `build` if unset or empty; a build that is no `u64` skips the rule |
//!   | `^Mac OS X <x.y.z>( \(<hex>\))?$` | name `macOS`, version, `build` (removed without one) |
//!   | `^iOS <x.y[.z]>`, `^iPadOS <x.y[.z]>` | name, version |
//!   | `^Linux <kernel> <Distro> <x[.y[.z]]>` | distro name, version, `kernel_version` |
//!   | `^<Letters> <kernel>` | name, `kernel_version` |
//!   | `^Android (OS )?<x[.y[.z]]> / API-<n>` | name `Android`, version |
//!   | `^Nintendo Switch$` | name `Nintendo OS` |
//!   | `^<Letters> \s*<digits, . and ->\s*$` | name, version |
//!
//!   A kernel version is `x.y[.z[.w]]` where the fourth part only takes the digits 1–9
//!   (`1.2.3.10` → `1.2.3.1`, `10.0.19042.0` → `10.0.19042`), as the oracle shows.
//!
//! * **runtime**: when `name` and `version` are both missing or empty, a `raw_description`
//!   matching `^(?P<name>.*) (?P<version>\d+\.\d+(\.\d+){0,2}).*$` gives name and version
//!   (the name is greedy: the last such version wins). Then, for a name starting with
//!   `.NET Framework` and a `build` that is a known release key, the version is the release's
//!   (normalization.md §7.10 table), replacing any other.
//!
//! Regexes use the `regex` crate's defaults, as observed on `StoreNormalizer` 0.10.1: `\d` is
//! any Unicode digit, `.` stops at a newline and `$` is the end of the text. They are compiled
//! once, lazily. Fields a rule does not name are left alone; nothing here adds meta.

use std::sync::LazyLock;

use regex::{Captures, Regex};
use relay_event::schema::contexts::{OsContext, RuntimeContext};
use relay_event::Annotated;

/// Compiles one of this module's fixed patterns; `None` would only mean a typo here, which
/// the tests rule out, and then the rule simply never matches.
fn compile(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

macro_rules! regex {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Option<Regex>> = LazyLock::new(|| compile($pattern));
    };
}

regex!(
    WINDOWS,
    r"^(Microsoft\s+)?Windows\s+(NT\s+)?(?P<version>\d+\.\d+\.(?P<build>\d+)).*$"
);
regex!(
    WINDOWS_PARENTHESIZED,
    r"^Windows\s+\d+\s+\((?P<version>\d+\.\d+\.(?P<build>\d+)).*$"
);
regex!(
    MAC_OS,
    r"^Mac OS X (?P<version>\d+\.\d+\.\d+)( \((?P<build>[a-fA-F0-9]+)\))?$"
);
regex!(IOS, r"^iOS (?P<version>\d+\.\d+(\.\d+)?)");
regex!(IPADOS, r"^iPadOS (?P<version>\d+\.\d+(\.\d+)?)");
regex!(
    LINUX_DISTRO,
    r"^Linux (?P<kernel_version>\d+\.\d+(\.\d+(\.[1-9]+)?)?) (?P<name>[a-zA-Z]+) (?P<version>\d+(\.\d+){0,2})"
);
regex!(
    NAME_KERNEL,
    r"^(?P<name>[a-zA-Z]+) (?P<kernel_version>\d+\.\d+(\.\d+(\.[1-9]+)?)?)"
);
regex!(
    ANDROID,
    r"^Android (OS )?(?P<version>\d+(\.\d+){0,2}) / API-(?P<api>\d+)"
);
regex!(
    NAME_VERSION,
    r"^(?P<name>[a-zA-Z]+) \s*(?P<version>[\d.\-]*)\s*$"
);
regex!(
    RUNTIME,
    r"^(?P<name>.*) (?P<version>\d+\.\d+(\.\d+){0,2}).*$"
);

fn captures<'t>(regex: &LazyLock<Option<Regex>>, text: &'t str) -> Option<Captures<'t>> {
    regex.as_ref()?.captures(text)
}

fn group(captures: &Captures<'_>, name: &str) -> Option<String> {
    captures.name(name).map(|m| m.as_str().to_owned())
}

fn set(field: &mut Annotated<String>, value: Option<String>) {
    if value.is_some() {
        field.set_value(value);
    }
}

/// The marketing version of a Windows build number, if it is a known one.
fn windows_version(build: u64) -> Option<&'static str> {
    Some(match build {
        2600..=3790 => "XP",
        6002 => "Vista",
        7601 => "7",
        9200 => "8",
        9600 => "8.1",
        10240..=19044 => "10",
        22000..=22999 => "11",
        _ => return None,
    })
}

/// The Windows rules: name, version from the build, and the build as default.
fn parse_windows(os: &mut OsContext, raw: &str) -> bool {
    let Some(captures) = captures(&WINDOWS, raw).or_else(|| captures(&WINDOWS_PARENTHESIZED, raw))
    else {
        return false;
    };
    let (Some(version), Some(build)) = (captures.name("version"), captures.name("build")) else {
        return false;
    };
    let Ok(number) = build.as_str().parse::<u64>() else {
        return false;
    };
    let version = windows_version(number).unwrap_or(version.as_str());
    os.name.set_value(Some("Windows".to_owned()));
    os.version.set_value(Some(version.to_owned()));
    if os.build.value().is_none_or(String::is_empty) {
        os.build.set_value(Some(build.as_str().to_owned()));
    }
    true
}

/// Fills an OS context's parts from its `raw_description` (see the module docs).
pub fn parse_os(os: &mut OsContext) {
    if os.name.value().is_some() || os.version.value().is_some() {
        return;
    }
    let Some(raw) = os.raw_description.value().cloned() else {
        return;
    };
    if parse_windows(os, &raw) {
        return;
    }
    if let Some(c) = captures(&MAC_OS, &raw) {
        os.name.set_value(Some("macOS".to_owned()));
        set(&mut os.version, group(&c, "version"));
        // Unlike Windows, the build is replaced, and removed when the text has none.
        os.build.set_value(group(&c, "build"));
    } else if let Some(c) = captures(&IOS, &raw) {
        os.name.set_value(Some("iOS".to_owned()));
        set(&mut os.version, group(&c, "version"));
    } else if let Some(c) = captures(&IPADOS, &raw) {
        os.name.set_value(Some("iPadOS".to_owned()));
        set(&mut os.version, group(&c, "version"));
    } else if let Some(c) = captures(&LINUX_DISTRO, &raw) {
        set(&mut os.name, group(&c, "name"));
        set(&mut os.version, group(&c, "version"));
        set(&mut os.kernel_version, group(&c, "kernel_version"));
    } else if let Some(c) = captures(&NAME_KERNEL, &raw) {
        set(&mut os.name, group(&c, "name"));
        set(&mut os.kernel_version, group(&c, "kernel_version"));
    } else if let Some(c) = captures(&ANDROID, &raw) {
        os.name.set_value(Some("Android".to_owned()));
        set(&mut os.version, group(&c, "version"));
    } else if raw == "Nintendo Switch" {
        os.name.set_value(Some("Nintendo OS".to_owned()));
    } else if let Some(c) = captures(&NAME_VERSION, &raw) {
        set(&mut os.name, group(&c, "name"));
        set(&mut os.version, group(&c, "version"));
    }
}

/// The .NET Framework version of a release key (the `Release` registry value).
fn dotnet_framework_version(build: &str) -> Option<&'static str> {
    Some(match build {
        "378389" => "4.5",
        "378675" | "378758" => "4.5.1",
        "379893" => "4.5.2",
        "393295" | "393297" => "4.6",
        "394254" | "394271" => "4.6.1",
        "394802" | "394806" => "4.6.2",
        "460798" | "460805" => "4.7",
        "461308" | "461310" => "4.7.1",
        "461808" | "461814" => "4.7.2",
        "528040" | "528049" | "528209" | "528372" | "528449" => "4.8",
        _ => return None,
    })
}

/// Fills a runtime context's name and version from its `raw_description`, then maps .NET
/// Framework release keys (see the module docs).
pub fn parse_runtime(runtime: &mut RuntimeContext) {
    let is_empty = |field: &Annotated<String>| field.value().is_none_or(String::is_empty);
    if is_empty(&runtime.name) && is_empty(&runtime.version) {
        let parsed = runtime
            .raw_description
            .value()
            .and_then(|raw| captures(&RUNTIME, raw))
            .map(|c| (group(&c, "name"), group(&c, "version")));
        if let Some((name, version)) = parsed {
            set(&mut runtime.name, name);
            set(&mut runtime.version, version);
        }
    }
    let is_framework = runtime
        .name
        .value()
        .is_some_and(|name| name.starts_with(".NET Framework"));
    if is_framework {
        if let Some(version) = runtime
            .build
            .value()
            .and_then(|build| dotnet_framework_version(build))
        {
            runtime.version.set_value(Some(version.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    #[test]
    fn patterns_compile() {
        for regex in [
            &WINDOWS,
            &WINDOWS_PARENTHESIZED,
            &MAC_OS,
            &IOS,
            &IPADOS,
            &LINUX_DISTRO,
            &NAME_KERNEL,
            &ANDROID,
            &NAME_VERSION,
            &RUNTIME,
        ] {
            assert!(regex.is_some());
        }
    }

    fn os(input: serde_json::Value) -> serde_json::Value {
        let mut os: Annotated<OsContext> = from_json(input);
        if let Some(os) = os.value_mut() {
            parse_os(os);
        }
        let mut output = to_json(&os).unwrap_or_default();
        if let Some(object) = output.as_object_mut() {
            object.remove("raw_description");
        }
        output
    }

    fn runtime(input: serde_json::Value) -> serde_json::Value {
        let mut runtime: Annotated<RuntimeContext> = from_json(input);
        if let Some(runtime) = runtime.value_mut() {
            parse_runtime(runtime);
        }
        let mut output = to_json(&runtime).unwrap_or_default();
        if let Some(object) = output.as_object_mut() {
            object.remove("raw_description");
        }
        output
    }

    #[test]
    fn os_descriptions_match_the_oracle() {
        // (raw_description, parts), outputs of StoreNormalizer 0.10.1 (without `os`, which
        // the context step adds afterwards).
        let cases = [
            (
                "Microsoft Windows NT 10.0.19042.0",
                json!({"name": "Windows", "version": "10", "build": "19042"}),
            ),
            (
                "Microsoft Windows 10.0.17134 ",
                json!({"name": "Windows", "version": "10", "build": "17134"}),
            ),
            (
                "Windows 10.0.22621",
                json!({"name": "Windows", "version": "11", "build": "22621"}),
            ),
            (
                "Microsoft Windows NT 6.1.7601 Service Pack 1",
                json!({"name": "Windows", "version": "7", "build": "7601"}),
            ),
            (
                "Microsoft Windows NT 5.1.2600 Service Pack 3",
                json!({"name": "Windows", "version": "XP", "build": "2600"}),
            ),
            (
                "Windows NT 5.2.3790",
                json!({"name": "Windows", "version": "XP", "build": "3790"}),
            ),
            (
                "Windows NT 5.2.3791",
                json!({"name": "Windows", "version": "5.2.3791", "build": "3791"}),
            ),
            (
                "Windows NT 6.0.6002",
                json!({"name": "Windows", "version": "Vista", "build": "6002"}),
            ),
            (
                "Microsoft Windows NT 6.2.9200.0",
                json!({"name": "Windows", "version": "8", "build": "9200"}),
            ),
            (
                "Microsoft Windows NT 6.3.9600.0",
                json!({"name": "Windows", "version": "8.1", "build": "9600"}),
            ),
            (
                "Windows NT 10.0.10240",
                json!({"name": "Windows", "version": "10", "build": "10240"}),
            ),
            (
                "Microsoft Windows NT 10.0.19045",
                json!({"name": "Windows", "version": "10.0.19045", "build": "19045"}),
            ),
            (
                "Windows NT 10.0.22999",
                json!({"name": "Windows", "version": "11", "build": "22999"}),
            ),
            (
                "Microsoft Windows NT 10.0.23000.0",
                json!({"name": "Windows", "version": "10.0.23000", "build": "23000"}),
            ),
            (
                "Windows 10.0.019042",
                json!({"name": "Windows", "version": "10", "build": "019042"}),
            ),
            (
                "Windows\t10.0.19042",
                json!({"name": "Windows", "version": "10", "build": "19042"}),
            ),
            (
                "Windows 10 (10.0.19045)",
                json!({"name": "Windows", "version": "10.0.19045", "build": "19045"}),
            ),
            (
                "Windows 11 (10.0.22631) 64bit",
                json!({"name": "Windows", "version": "11", "build": "22631"}),
            ),
            ("Windows 10 (10.0)", json!({})),
            // Not a Windows rule match: newline, non-ASCII digit, `u64` overflow, case.
            (
                "Windows 10.0.19042\nx",
                json!({"name": "Windows", "kernel_version": "10.0.19042"}),
            ),
            (
                "Windows 10.0.1\u{662}",
                json!({"name": "Windows", "kernel_version": "10.0.1\u{662}"}),
            ),
            (
                "Windows 10.0.99999999999999999999",
                json!({"name": "Windows", "kernel_version": "10.0.99999999999999999999"}),
            ),
            (
                "windows 10.0.19042",
                json!({"name": "windows", "kernel_version": "10.0.19042"}),
            ),
            (
                "Windows 10.0",
                json!({"name": "Windows", "kernel_version": "10.0"}),
            ),
            (
                "Mac OS X 10.14.6 (18A87)",
                json!({"name": "macOS", "version": "10.14.6", "build": "18A87"}),
            ),
            (
                "Mac OS X 13.4.1",
                json!({"name": "macOS", "version": "13.4.1"}),
            ),
            ("Mac OS X 10.14.6 (18G87)", json!({})),
            ("Mac OS X 10.14", json!({})),
            ("Mac OS X 10.14.6 (abc)\n", json!({})),
            ("iOS 16.5.1.2", json!({"name": "iOS", "version": "16.5.1"})),
            ("iOS 16.5 beta", json!({"name": "iOS", "version": "16.5"})),
            ("iOS 16", json!({"name": "iOS", "version": "16"})),
            ("iOS 16 beta", json!({})),
            ("iOS  16.5-beta", json!({})),
            (
                "iPadOS 17.1.2 x",
                json!({"name": "iPadOS", "version": "17.1.2"}),
            ),
            (
                "Linux 5.15.0 Ubuntu 22.04.2 LTS",
                json!({"name": "Ubuntu", "version": "22.04.2", "kernel_version": "5.15.0"}),
            ),
            (
                "Linux 5.15 Ubuntu 22",
                json!({"name": "Ubuntu", "version": "22", "kernel_version": "5.15"}),
            ),
            (
                "Linux 5.15.0.1 Ubuntu 22.04",
                json!({"name": "Ubuntu", "version": "22.04", "kernel_version": "5.15.0.1"}),
            ),
            (
                "Linux 5.15.0-76-generic Ubuntu 22.04",
                json!({"name": "Linux", "kernel_version": "5.15.0"}),
            ),
            (
                "Linux 5.15.0.1.2 Ubuntu 22.04",
                json!({"name": "Linux", "kernel_version": "5.15.0.1"}),
            ),
            (
                "Linux 5.15.0 Ubuntu  22.04",
                json!({"name": "Linux", "kernel_version": "5.15.0"}),
            ),
            ("Linux  5.15.0 Ubuntu 22.04", json!({})),
            (
                "Darwin 22.5.0 Darwin Kernel Version 22.5.0",
                json!({"name": "Darwin", "kernel_version": "22.5.0"}),
            ),
            (
                "Mono 6.12.0.182 (2020-02/6051b710799 Tue Jun 14 15:01:21 EDT 2022)",
                json!({"name": "Mono", "kernel_version": "6.12.0.182"}),
            ),
            (
                "Abc 1.2.3.4.5",
                json!({"name": "Abc", "kernel_version": "1.2.3.4"}),
            ),
            // The fourth kernel part takes only the digits 1–9.
            (
                "Abc 1.2.3.10",
                json!({"name": "Abc", "kernel_version": "1.2.3.1"}),
            ),
            (
                "Mono 10.0.19042.0 ",
                json!({"name": "Mono", "kernel_version": "10.0.19042"}),
            ),
            (
                "Abc 1.2.3.05",
                json!({"name": "Abc", "kernel_version": "1.2.3"}),
            ),
            (
                "Linux 5.15.0.0 Ubuntu 22.04",
                json!({"name": "Linux", "kernel_version": "5.15.0"}),
            ),
            (
                "Xbox 10.0.26100",
                json!({"name": "Xbox", "kernel_version": "10.0.26100"}),
            ),
            (
                "Android OS 13 / API-33 (TQ3A.230705.001/10216780)",
                json!({"name": "Android", "version": "13"}),
            ),
            (
                "Android 13 / API-33",
                json!({"name": "Android", "version": "13"}),
            ),
            (
                "Android 7.1.1 / API-25 (NMF26X)",
                json!({"name": "Android", "kernel_version": "7.1.1"}),
            ),
            ("Android OS 13.1.2.3 / API-33", json!({})),
            ("Android OS 13 /API-33", json!({})),
            ("Nintendo Switch", json!({"name": "Nintendo OS"})),
            ("Nintendo Switch 1.0", json!({})),
            ("Nintendo Switch\n", json!({})),
            ("Fedora 38", json!({"name": "Fedora", "version": "38"})),
            (
                "Fedora 38-1.2",
                json!({"name": "Fedora", "version": "38-1.2"}),
            ),
            ("Abc  1.2", json!({"name": "Abc", "version": "1.2"})),
            ("Abc \t1.2", json!({"name": "Abc", "version": "1.2"})),
            ("Abc 1\n", json!({"name": "Abc", "version": "1"})),
            ("Abc ", json!({"name": "Abc", "version": ""})),
            ("Abc\t1.2", json!({})),
            ("Abc 1 2", json!({})),
            ("Fedora 38 Workstation", json!({})),
            (
                "PlayStation 5",
                json!({"name": "PlayStation", "version": "5"}),
            ),
            ("PS4 8.50", json!({})),
            ("Xbox One 10.0.19041.2494", json!({})),
            ("\u{dc}n\u{ef} 1.2", json!({})),
            ("Windows", json!({})),
            ("", json!({})),
        ];
        for (raw, expected) in cases {
            assert_eq!(os(json!({"raw_description": raw})), expected, "{raw:?}");
        }
    }

    #[test]
    fn os_fields_set_or_kept() {
        // StoreNormalizer 0.10.1: the Windows build is only a default, the macOS build and
        // kernel versions are overwritten, other fields are kept.
        let cases = [
            (
                json!({"raw_description": "Microsoft Windows NT 10.0.19042.0", "build": "B"}),
                json!({"name": "Windows", "version": "10", "build": "B"}),
            ),
            (
                json!({"raw_description": "Windows 10.0.19042", "build": ""}),
                json!({"name": "Windows", "version": "10", "build": "19042"}),
            ),
            (
                json!({"raw_description": "Mac OS X 10.14.6 (abc)", "build": "B",
                    "kernel_version": "K"}),
                json!({"name": "macOS", "version": "10.14.6", "build": "abc",
                    "kernel_version": "K"}),
            ),
            (
                json!({"raw_description": "Mac OS X 13.4.1", "build": "B"}),
                json!({"name": "macOS", "version": "13.4.1"}),
            ),
            (
                json!({"raw_description": "Linux 5.15.0 Ubuntu 22.04", "kernel_version": "K"}),
                json!({"name": "Ubuntu", "version": "22.04", "kernel_version": "5.15.0"}),
            ),
            (
                json!({"raw_description": "Abc 1.2", "kernel_version": "k"}),
                json!({"name": "Abc", "kernel_version": "1.2"}),
            ),
            (
                json!({"raw_description": "Abc 1", "kernel_version": "k", "build": "b"}),
                json!({"name": "Abc", "version": "1", "build": "b", "kernel_version": "k"}),
            ),
            // A name or version (even empty) stops the parsing.
            (
                json!({"raw_description": "Windows 10.0.19042", "name": ""}),
                json!({"name": ""}),
            ),
            (
                json!({"raw_description": "Windows 10.0.19042", "version": "1"}),
                json!({"version": "1"}),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(os(input.clone()), expected, "{input}");
        }
    }

    #[test]
    fn runtime_descriptions_match_the_oracle() {
        // (context, parts), outputs of StoreNormalizer 0.10.1 (without `runtime`).
        let cases = [
            (
                json!({"raw_description": ".NET Framework 4.8.4250.0"}),
                json!({"name": ".NET Framework", "version": "4.8.4250.0"}),
            ),
            (
                json!({"raw_description": ".NET Core 4.6.26919.02"}),
                json!({"name": ".NET Core", "version": "4.6.26919.02"}),
            ),
            (
                json!({"raw_description": "Linux 5.15.0-76-generic Ubuntu 22.04"}),
                json!({"name": "Linux 5.15.0-76-generic Ubuntu", "version": "22.04"}),
            ),
            (
                json!({"raw_description": "Linux 4.19.0-18-amd64 Debian 10"}),
                json!({"name": "Linux", "version": "4.19.0"}),
            ),
            (
                json!({"raw_description": "Mono 6.12.0.182 (2020-02/6051b710799 Tue Jun 14 15:01:21 EDT 2022)"}),
                json!({"name": "Mono", "version": "6.12.0.182"}),
            ),
            (
                json!({"raw_description": " leading space 1.2"}),
                json!({"name": " leading space", "version": "1.2"}),
            ),
            (
                json!({"raw_description": "iOS  16.5-beta"}),
                json!({"name": "iOS ", "version": "16.5"}),
            ),
            (
                json!({"raw_description": "Abc \u{661}.\u{662}"}),
                json!({"name": "Abc", "version": "\u{661}.\u{662}"}),
            ),
            (
                json!({"raw_description": "Mono Unity IL2CPP (Mar 18 2025 18:14:06)"}),
                json!({}),
            ),
            (json!({"raw_description": "iOS 16"}), json!({})),
            (json!({"raw_description": "X 4.0.1\ny"}), json!({})),
            (json!({"raw_description": "X\n4.0.1 y"}), json!({})),
            // Empty name and version still parse; a set one stops it.
            (
                json!({"raw_description": "X 4.0.1", "name": "", "version": ""}),
                json!({"name": "X", "version": "4.0.1"}),
            ),
            (
                json!({"raw_description": "X 4.0.1", "name": "N"}),
                json!({"name": "N"}),
            ),
            (
                json!({"raw_description": "X 4.0.1", "version": "2"}),
                json!({"version": "2"}),
            ),
            // .NET Framework release keys.
            (
                json!({"raw_description": ".NET Framework 4.8.4250.0", "build": "528040"}),
                json!({"name": ".NET Framework", "version": "4.8", "build": "528040"}),
            ),
            (
                json!({"raw_description": ".NET Framework 4.0.30319.42000", "build": "461808"}),
                json!({"name": ".NET Framework", "version": "4.7.2", "build": "461808"}),
            ),
            (
                json!({"raw_description": ".NET Framework 4.0.30319.42000", "build": "1"}),
                json!({"name": ".NET Framework", "version": "4.0.30319.42000", "build": "1"}),
            ),
            (
                json!({"name": ".NET Framework", "version": "4.0.30319", "build": "461808"}),
                json!({"name": ".NET Framework", "version": "4.7.2", "build": "461808"}),
            ),
            (
                json!({"name": ".NET Framework", "version": "", "build": "378389"}),
                json!({"name": ".NET Framework", "version": "4.5", "build": "378389"}),
            ),
            (
                json!({"raw_description": ".NET Frameworkx 4.0.1", "build": "461808"}),
                json!({"name": ".NET Frameworkx", "version": "4.7.2", "build": "461808"}),
            ),
            (
                json!({"raw_description": ".NET Core 4.0.1", "build": "461808"}),
                json!({"name": ".NET Core", "version": "4.0.1", "build": "461808"}),
            ),
            (
                json!({"name": ".NET Framework", "build": " 378389"}),
                json!({"name": ".NET Framework", "build": " 378389"}),
            ),
            (
                json!({"raw_description": ".NET Framework", "build": "461808"}),
                json!({"build": "461808"}),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(runtime(input.clone()), expected, "{input}");
        }
    }
}
