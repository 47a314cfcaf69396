//! Small helpers shared by the field steps.

use relay_event::schema::{Event, Stacktrace, TagEntry, Tags};
use relay_event::{Annotated, LenientString};

/// Calls `f` on the event's stack trace, then on every exception's and every thread's stack
/// trace, each followed by its raw stack trace when `include_raw` is set.
pub(crate) fn for_each_stacktrace(
    event: &mut Event,
    include_raw: bool,
    mut f: impl FnMut(&mut Annotated<Stacktrace>),
) {
    f(&mut event.stacktrace);
    if let Some(values) = event
        .exceptions
        .value_mut()
        .as_mut()
        .and_then(|v| v.values.value_mut().as_mut())
    {
        for exception in values.iter_mut().filter_map(|e| e.value_mut().as_mut()) {
            f(&mut exception.stacktrace);
            if include_raw {
                f(&mut exception.raw_stacktrace);
            }
        }
    }
    if let Some(values) = event
        .threads
        .value_mut()
        .as_mut()
        .and_then(|v| v.values.value_mut().as_mut())
    {
        for thread in values.iter_mut().filter_map(|t| t.value_mut().as_mut()) {
            f(&mut thread.stacktrace);
            if include_raw {
                f(&mut thread.raw_stacktrace);
            }
        }
    }
}

/// Appends the tag `key` = `value` unless a tag with that key exists (§7.3 item 6: steps 19
/// and 22 add tags after the tag step). Creates `tags` if needed, keeping its meta.
pub(crate) fn add_tag_if_absent(event: &mut Event, key: &str, value: String) {
    let tags = event.tags.get_or_insert_with(Tags::default);
    let exists = tags.iter().any(|entry| {
        entry
            .value()
            .and_then(|entry| entry.0.value())
            .is_some_and(|k| k.as_str() == key)
    });
    if !exists {
        tags.push(Annotated::new(TagEntry(
            Annotated::new(LenientString(key.to_owned())),
            Annotated::new(LenientString(value)),
        )));
    }
}
