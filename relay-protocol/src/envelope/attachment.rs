//! `attachment_type` values (`envelope.md` §3.2).

use std::fmt;
use std::str::FromStr;

macro_rules! attachment_types {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $name:literal, creates_event: $creates:literal, size_kind: $kind:literal;
    )*) => {
        /// The flavour of an `attachment` item.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
        pub enum AttachmentType {
            $( $(#[$doc])* $variant, )*
        }

        impl AttachmentType {
            /// Every attachment type in the order of the spec table.
            pub const ALL: &'static [AttachmentType] = &[$(AttachmentType::$variant,)*];

            /// The wire name, e.g. `event.minidump`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( AttachmentType::$variant => $name, )*
                }
            }

            /// Parses a wire name; `None` for anything unrecognised.
            pub fn from_name(name: &str) -> Option<AttachmentType> {
                match name {
                    $( $name => Some(AttachmentType::$variant), )*
                    _ => None,
                }
            }

            /// Whether an attachment of this type creates an event (crash reports).
            pub fn creates_event(self) -> bool {
                match self {
                    $( AttachmentType::$variant => $creates, )*
                }
            }

            /// The kind used in size-limit names (`attachment:<kind>`, `envelope.md` §8).
            pub fn size_limit_kind(self) -> &'static str {
                match self {
                    $( AttachmentType::$variant => $kind, )*
                }
            }
        }
    };
}

attachment_types! {
    /// `event.attachment`: a plain file (the default).
    #[default]
    Attachment = "event.attachment", creates_event: false, size_kind: "attachment";
    /// `event.minidump`
    Minidump = "event.minidump", creates_event: true, size_kind: "minidump";
    /// `event.applecrashreport`
    AppleCrashReport = "event.applecrashreport", creates_event: true, size_kind: "apple_crash_report";
    /// `event.payload`: msgpack-encoded event.
    EventPayload = "event.payload", creates_event: true, size_kind: "event_payload";
    /// `event.breadcrumbs`: msgpack breadcrumbs.
    Breadcrumbs = "event.breadcrumbs", creates_event: true, size_kind: "breadcrumbs";
    /// `playstation.prosperodump`
    Prosperodump = "playstation.prosperodump", creates_event: true, size_kind: "prosperodump";
    /// `nswitch.dying_message`
    NintendoSwitchDyingMessage = "nswitch.dying_message", creates_event: true, size_kind: "nnswitch_dying_message";
    /// `unreal.context`
    UnrealContext = "unreal.context", creates_event: false, size_kind: "unreal_context";
    /// `unreal.logs`
    UnrealLogs = "unreal.logs", creates_event: false, size_kind: "unreal_logs";
    /// `event.view_hierarchy`
    ViewHierarchy = "event.view_hierarchy", creates_event: false, size_kind: "view_hierarchy";
    /// `event.nv_gpudmp`
    NvidiaGpuDump = "event.nv_gpudmp", creates_event: true, size_kind: "attachment";
    /// `event.nv_shader_debug`
    NvidiaShaderDebug = "event.nv_shader_debug", creates_event: false, size_kind: "attachment";
}

/// Error for an unrecognised attachment type name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown attachment type")]
pub struct ParseAttachmentTypeError;

impl FromStr for AttachmentType {
    type Err = ParseAttachmentTypeError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        AttachmentType::from_name(name).ok_or(ParseAttachmentTypeError)
    }
}

impl fmt::Display for AttachmentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table() {
        let table = [
            ("event.attachment", false, "attachment"),
            ("event.minidump", true, "minidump"),
            ("event.applecrashreport", true, "apple_crash_report"),
            ("event.payload", true, "event_payload"),
            ("event.breadcrumbs", true, "breadcrumbs"),
            ("playstation.prosperodump", true, "prosperodump"),
            ("nswitch.dying_message", true, "nnswitch_dying_message"),
            ("unreal.context", false, "unreal_context"),
            ("unreal.logs", false, "unreal_logs"),
            ("event.view_hierarchy", false, "view_hierarchy"),
            ("event.nv_gpudmp", true, "attachment"),
            ("event.nv_shader_debug", false, "attachment"),
        ];
        assert_eq!(AttachmentType::ALL.len(), table.len());
        for (name, creates_event, kind) in table {
            let parsed: AttachmentType = name.parse().unwrap();
            assert_eq!(parsed.as_str(), name);
            assert_eq!(parsed.creates_event(), creates_event, "{name}");
            assert_eq!(parsed.size_limit_kind(), kind, "{name}");
        }
        assert_eq!(AttachmentType::default(), AttachmentType::Attachment);
        assert!("event.unknown".parse::<AttachmentType>().is_err());
        assert!("Event.Minidump".parse::<AttachmentType>().is_err());
    }
}
