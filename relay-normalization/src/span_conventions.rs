//! Span conventions (normalization.md §7 step 1): span-data attributes whose names are
//! deprecated in Sentry's attribute registry are written under their replacements, so that
//! queries only need the current names.
//!
//! Only for transactions with span normalization ([`crate::NormalizationConfig::normalize_spans`]),
//! on the `data` of the trace context and of every span. Observed with StoreNormalizer
//! 0.10.1:
//!
//! * the attributes are visited in key order; a deprecated name with a value copies it to its
//!   replacement unless the replacement key exists (even with `null`), so with several
//!   deprecated names for one replacement the first in key order wins;
//! * `backfill` deprecations keep the deprecated attribute; `normalize` ones turn it into
//!   `null` with the remark `["attribute.deprecated", "x"]` — also when the replacement existed
//!   already or the value was `null`;
//! * `<key>` in a name stands for one non-empty segment without `.` (`cls.source.1` →
//!   `browser.web_vital.cls.source.1`; `cls.source.a.b` stays);
//! * values are copied whatever their type.

use relay_event::schema::{Contexts, Event, EventType};
use relay_event::{Annotated, Object, Remark, RemarkType, Value};

/// What happens to a deprecated attribute once its value is under the replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// The deprecated attribute stays.
    Backfill,
    /// The deprecated attribute is removed (`null` with a remark).
    Normalize,
}

/// The replacement and status of `name`, if it is deprecated.
fn deprecation(name: &str) -> Option<(String, Status)> {
    DEPRECATED_ATTRIBUTES
        .iter()
        .find_map(|(deprecated, replacement, status)| {
            if *deprecated == name {
                return Some(((*replacement).to_owned(), *status));
            }
            let prefix = deprecated.strip_suffix("<key>")?;
            let key = name.strip_prefix(prefix)?;
            let replacement_prefix = replacement.strip_suffix("<key>")?;
            (!key.is_empty() && !key.contains('.'))
                .then(|| (format!("{replacement_prefix}{key}"), *status))
        })
}

fn normalize_data(data: &mut Object<Value>) {
    let keys: Vec<String> = data.keys().cloned().collect();
    for key in keys {
        let Some((replacement, status)) = deprecation(&key) else {
            continue;
        };
        let value = data.get(&key).and_then(|value| value.value()).cloned();
        if let Some(value) = value {
            data.entry(replacement)
                .or_insert_with(|| Annotated::new(value));
        }
        if status == Status::Normalize {
            if let Some(attribute) = data.get_mut(&key) {
                attribute.set_value(None);
                attribute
                    .meta_mut()
                    .add_remark(Remark::new(RemarkType::Removed, "attribute.deprecated"));
            }
        }
    }
}

/// Step 1; `normalize_spans` is [`crate::NormalizationConfig::normalize_spans`].
pub fn normalize_span_conventions(event: &mut Event, normalize_spans: bool) {
    if !normalize_spans || event.ty.value() != Some(&EventType::Transaction) {
        return;
    }
    let trace = event
        .contexts
        .value_mut()
        .as_mut()
        .and_then(Contexts::trace_mut);
    if let Some(trace) = trace {
        if let Some(data) = trace.data.value_mut() {
            normalize_data(data);
        }
    }
    if let Some(spans) = event.spans.value_mut() {
        for span in spans
            .iter_mut()
            .filter_map(|span| span.value_mut().as_mut())
        {
            if let Some(data) = span.data.value_mut() {
                normalize_data(data);
            }
        }
    }
}

/// (deprecated name, replacement, status), sorted by name; `<key>` stands for any rest of the
/// name. From the attribute registry of `sentry-conventions` 0.29.0
/// (<https://github.com/getsentry/sentry-conventions>), checked one by one against
/// StoreNormalizer 0.10.1, which does not know three of its backfills (left out:
/// `anthropic.tool_result.content`, `nel.sampling_function`, `server.ext.type`); its three
/// `transform` deprecations (`gen_ai.request.messages`, `gen_ai.response.text`,
/// `gen_ai.response.tool_calls`) behave like `normalize` there.
const DEPRECATED_ATTRIBUTES: &[(&str, &str, Status)] = &[
    ("address", "server.address", Status::Backfill),
    (
        "ai.completion_tokens.used",
        "gen_ai.usage.output_tokens",
        Status::Backfill,
    ),
    (
        "ai.finish_reason",
        "gen_ai.response.finish_reasons",
        Status::Backfill,
    ),
    (
        "ai.frequency_penalty",
        "gen_ai.request.frequency_penalty",
        Status::Backfill,
    ),
    ("ai.function_call", "gen_ai.tool.name", Status::Backfill),
    ("ai.generation_id", "gen_ai.response.id", Status::Backfill),
    (
        "ai.input_messages",
        "gen_ai.input.messages",
        Status::Backfill,
    ),
    ("ai.model.id", "gen_ai.request.model", Status::Backfill),
    (
        "ai.model.provider",
        "gen_ai.provider.name",
        Status::Backfill,
    ),
    ("ai.model_id", "gen_ai.request.model", Status::Backfill),
    ("ai.pipeline.name", "gen_ai.pipeline.name", Status::Backfill),
    (
        "ai.preamble",
        "gen_ai.system_instructions",
        Status::Backfill,
    ),
    (
        "ai.presence_penalty",
        "gen_ai.request.presence_penalty",
        Status::Backfill,
    ),
    ("ai.prompt", "gen_ai.input.messages", Status::Backfill),
    (
        "ai.prompt.messages",
        "gen_ai.input.messages",
        Status::Backfill,
    ),
    (
        "ai.prompt.tools",
        "gen_ai.tool.definitions",
        Status::Backfill,
    ),
    (
        "ai.prompt_tokens.used",
        "gen_ai.usage.input_tokens",
        Status::Backfill,
    ),
    ("ai.response.id", "gen_ai.response.id", Status::Backfill),
    (
        "ai.response.model",
        "gen_ai.response.model",
        Status::Backfill,
    ),
    (
        "ai.response.text",
        "gen_ai.output.messages",
        Status::Backfill,
    ),
    (
        "ai.response.toolCalls",
        "gen_ai.output.messages",
        Status::Backfill,
    ),
    ("ai.responses", "gen_ai.output.messages", Status::Backfill),
    ("ai.seed", "gen_ai.request.seed", Status::Backfill),
    (
        "ai.streaming",
        "gen_ai.response.streaming",
        Status::Backfill,
    ),
    (
        "ai.temperature",
        "gen_ai.request.temperature",
        Status::Backfill,
    ),
    ("ai.texts", "gen_ai.input.messages", Status::Backfill),
    (
        "ai.toolCall.args",
        "gen_ai.tool.call.arguments",
        Status::Backfill,
    ),
    (
        "ai.toolCall.result",
        "gen_ai.tool.call.result",
        Status::Backfill,
    ),
    ("ai.tool_calls", "gen_ai.output.messages", Status::Backfill),
    ("ai.tools", "gen_ai.tool.definitions", Status::Backfill),
    ("ai.top_k", "gen_ai.request.top_k", Status::Backfill),
    ("ai.top_p", "gen_ai.request.top_p", Status::Backfill),
    (
        "ai.total_cost",
        "gen_ai.cost.total_tokens",
        Status::Backfill,
    ),
    (
        "ai.total_tokens.used",
        "gen_ai.usage.total_tokens",
        Status::Backfill,
    ),
    (
        "ai.usage.tokens",
        "gen_ai.usage.total_tokens",
        Status::Backfill,
    ),
    ("app.app_build", "app.build", Status::Backfill),
    ("app.app_identifier", "app.identifier", Status::Backfill),
    ("app.app_name", "app.name", Status::Backfill),
    ("app.app_start_time", "app.start_time", Status::Backfill),
    ("app.app_version", "app.version", Status::Backfill),
    (
        "app_start_cold",
        "app.vitals.start.cold.value",
        Status::Backfill,
    ),
    ("app_start_type", "app.vitals.start.type", Status::Backfill),
    (
        "app_start_warm",
        "app.vitals.start.warm.value",
        Status::Backfill,
    ),
    (
        "aws.kinesis.stream.name",
        "aws.kinesis.stream_name",
        Status::Backfill,
    ),
    (
        "aws.lambda.aws_request_id",
        "faas.invocation_id",
        Status::Backfill,
    ),
    ("aws.lambda.function_name", "faas.name", Status::Backfill),
    (
        "aws.lambda.function_version",
        "faas.version",
        Status::Backfill,
    ),
    (
        "aws.lambda.invoked_function_arn",
        "aws.lambda.invoked_arn",
        Status::Backfill,
    ),
    ("aws.operation_name", "rpc.method", Status::Backfill),
    (
        "aws.request.extended_id",
        "aws.extended_request_id",
        Status::Backfill,
    ),
    ("aws.request.id", "aws.request_id", Status::Backfill),
    ("aws.request.url", "url.full", Status::Backfill),
    ("aws_region", "cloud.region", Status::Backfill),
    (
        "cloudflare.d1.query_type",
        "db.operation.name",
        Status::Backfill,
    ),
    ("cls", "browser.web_vital.cls.value", Status::Backfill),
    (
        "cls.source.<key>",
        "browser.web_vital.cls.source.<key>",
        Status::Backfill,
    ),
    ("code", "rpc.response.status_code", Status::Backfill),
    ("code.filepath", "code.file.path", Status::Backfill),
    ("code.lineno", "code.line.number", Status::Backfill),
    ("connection.rtt", "network.connection.rtt", Status::Backfill),
    (
        "connectionType",
        "network.connection.type",
        Status::Backfill,
    ),
    (
        "db.mongodb.collection",
        "db.collection.name",
        Status::Backfill,
    ),
    ("db.name", "db.namespace", Status::Backfill),
    ("db.operation", "db.operation.name", Status::Normalize),
    ("db.statement", "db.query.text", Status::Normalize),
    ("db.system", "db.system.name", Status::Backfill),
    (
        "device.connection_type",
        "network.connection.type",
        Status::Backfill,
    ),
    (
        "deviceMemory",
        "device.memory.estimated_capacity",
        Status::Backfill,
    ),
    ("dist", "sentry.dist", Status::Backfill),
    (
        "django.function_name",
        "code.function.name",
        Status::Backfill,
    ),
    (
        "django.middleware_name",
        "middleware.name",
        Status::Backfill,
    ),
    (
        "effectiveConnectionType",
        "network.connection.effective_type",
        Status::Backfill,
    ),
    ("environment", "sentry.environment", Status::Normalize),
    ("faas.execution", "faas.invocation_id", Status::Backfill),
    ("faas.id", "cloud.resource_id", Status::Backfill),
    ("fcp", "browser.web_vital.fcp.value", Status::Backfill),
    ("fp", "browser.web_vital.fp.value", Status::Backfill),
    (
        "frames.delay",
        "app.vitals.frames.delay.value",
        Status::Backfill,
    ),
    (
        "frames.frozen",
        "app.vitals.frames.frozen.count",
        Status::Backfill,
    ),
    (
        "frames.slow",
        "app.vitals.frames.slow.count",
        Status::Backfill,
    ),
    (
        "frames.total",
        "app.vitals.frames.total.count",
        Status::Backfill,
    ),
    (
        "frames_frozen_rate",
        "app.vitals.frames.frozen.rate",
        Status::Backfill,
    ),
    (
        "frames_slow_rate",
        "app.vitals.frames.slow.rate",
        Status::Backfill,
    ),
    ("gcp_region", "cloud.region", Status::Backfill),
    ("gen_ai.prompt", "gen_ai.input.messages", Status::Backfill),
    (
        "gen_ai.request.available_tools",
        "gen_ai.tool.definitions",
        Status::Normalize,
    ),
    (
        "gen_ai.request.messages",
        "gen_ai.input.messages",
        Status::Normalize,
    ),
    (
        "gen_ai.response.finish_reason",
        "gen_ai.response.finish_reasons",
        Status::Normalize,
    ),
    (
        "gen_ai.response.text",
        "gen_ai.output.messages",
        Status::Normalize,
    ),
    (
        "gen_ai.response.time_to_first_token",
        "gen_ai.response.time_to_first_chunk",
        Status::Backfill,
    ),
    (
        "gen_ai.response.tool_calls",
        "gen_ai.output.messages",
        Status::Normalize,
    ),
    ("gen_ai.system", "gen_ai.provider.name", Status::Normalize),
    (
        "gen_ai.system.message",
        "gen_ai.system_instructions",
        Status::Backfill,
    ),
    (
        "gen_ai.tool.input",
        "gen_ai.tool.call.arguments",
        Status::Normalize,
    ),
    (
        "gen_ai.tool.message",
        "gen_ai.tool.call.result",
        Status::Normalize,
    ),
    (
        "gen_ai.tool.output",
        "gen_ai.tool.call.result",
        Status::Normalize,
    ),
    (
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        Status::Backfill,
    ),
    (
        "gen_ai.usage.cache_read_input_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        Status::Backfill,
    ),
    (
        "gen_ai.usage.completion_tokens",
        "gen_ai.usage.output_tokens",
        Status::Backfill,
    ),
    (
        "gen_ai.usage.input_tokens.cache_write",
        "gen_ai.usage.cache_creation.input_tokens",
        Status::Backfill,
    ),
    (
        "gen_ai.usage.input_tokens.cached",
        "gen_ai.usage.cache_read.input_tokens",
        Status::Backfill,
    ),
    (
        "gen_ai.usage.output_tokens.reasoning",
        "gen_ai.usage.reasoning.output_tokens",
        Status::Backfill,
    ),
    (
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.input_tokens",
        Status::Backfill,
    ),
    ("graphql.source", "graphql.document", Status::Backfill),
    (
        "hardwareConcurrency",
        "device.processor_count",
        Status::Backfill,
    ),
    ("http.client_ip", "client.address", Status::Backfill),
    (
        "http.decoded_response_content_length",
        "http.response.body.decoded_size",
        Status::Backfill,
    ),
    ("http.flavor", "network.protocol.version", Status::Backfill),
    ("http.method", "http.request.method", Status::Backfill),
    (
        "http.request_content_length",
        "http.request.body.size",
        Status::Backfill,
    ),
    (
        "http.request_content_length_uncompressed",
        "http.request.body.decoded_size",
        Status::Backfill,
    ),
    (
        "http.request_method",
        "http.request.method",
        Status::Backfill,
    ),
    (
        "http.response_content_length",
        "http.response.body.size",
        Status::Backfill,
    ),
    (
        "http.response_content_length_uncompressed",
        "http.response.body.decoded_size",
        Status::Backfill,
    ),
    (
        "http.response_transfer_size",
        "http.response.size",
        Status::Backfill,
    ),
    ("http.scheme", "url.scheme", Status::Backfill),
    ("http.server_name", "server.address", Status::Backfill),
    (
        "http.status_code",
        "http.response.status_code",
        Status::Backfill,
    ),
    (
        "http.status_text",
        "http.response.status_text",
        Status::Backfill,
    ),
    ("http.url", "url.full", Status::Backfill),
    ("http.user_agent", "user_agent.original", Status::Backfill),
    ("inp", "browser.web_vital.inp.value", Status::Backfill),
    (
        "langchain.chain.name",
        "gen_ai.pipeline.name",
        Status::Backfill,
    ),
    ("lcp", "browser.web_vital.lcp.value", Status::Backfill),
    (
        "lcp.element",
        "browser.web_vital.lcp.element",
        Status::Backfill,
    ),
    ("lcp.id", "browser.web_vital.lcp.id", Status::Backfill),
    (
        "lcp.loadTime",
        "browser.web_vital.lcp.load_time",
        Status::Backfill,
    ),
    (
        "lcp.renderTime",
        "browser.web_vital.lcp.render_time",
        Status::Backfill,
    ),
    ("lcp.size", "browser.web_vital.lcp.size", Status::Backfill),
    ("lcp.url", "browser.web_vital.lcp.url", Status::Backfill),
    (
        "litestar.middleware_name",
        "middleware.name",
        Status::Backfill,
    ),
    ("mcp.prompt.name", "gen_ai.prompt.name", Status::Backfill),
    ("mcp.request.id", "jsonrpc.request.id", Status::Backfill),
    ("mcp.tool.name", "gen_ai.tool.name", Status::Backfill),
    (
        "mcp.tool.result.content",
        "gen_ai.tool.call.result",
        Status::Backfill,
    ),
    (
        "messaging.conversation_id",
        "messaging.message.conversation_id",
        Status::Backfill,
    ),
    (
        "messaging.destination",
        "messaging.destination.name",
        Status::Backfill,
    ),
    (
        "messaging.message_id",
        "messaging.message.id",
        Status::Backfill,
    ),
    (
        "messaging.operation",
        "messaging.operation.name",
        Status::Backfill,
    ),
    (
        "messaging.protocol",
        "network.protocol.name",
        Status::Backfill,
    ),
    (
        "messaging.protocol_version",
        "network.protocol.version",
        Status::Backfill,
    ),
    (
        "messaging.rabbitmq.routing_key",
        "messaging.rabbitmq.destination.routing_key",
        Status::Backfill,
    ),
    ("messaging.url", "url.full", Status::Backfill),
    ("method", "http.request.method", Status::Normalize),
    (
        "navigation.origin",
        "router.navigation.origin",
        Status::Backfill,
    ),
    (
        "navigation.route.id",
        "router.navigation.route.id",
        Status::Backfill,
    ),
    (
        "navigation.type",
        "router.navigation.type",
        Status::Backfill,
    ),
    ("net.host.ip", "network.local.address", Status::Backfill),
    ("net.host.name", "server.address", Status::Backfill),
    ("net.host.port", "server.port", Status::Backfill),
    ("net.peer.ip", "network.peer.address", Status::Backfill),
    (
        "net.protocol.name",
        "network.protocol.name",
        Status::Backfill,
    ),
    (
        "net.protocol.version",
        "network.protocol.version",
        Status::Backfill,
    ),
    (
        "net.sock.host.addr",
        "network.local.address",
        Status::Backfill,
    ),
    ("net.sock.host.port", "network.local.port", Status::Backfill),
    (
        "net.sock.peer.addr",
        "network.peer.address",
        Status::Backfill,
    ),
    ("net.sock.peer.port", "network.peer.port", Status::Backfill),
    ("os.build", "os.build_id", Status::Backfill),
    ("otel.kind", "sentry.kind", Status::Backfill),
    (
        "performance.activationStart",
        "browser.performance.navigation.activation_start",
        Status::Backfill,
    ),
    (
        "performance.timeOrigin",
        "browser.performance.time_origin",
        Status::Backfill,
    ),
    ("port", "server.port", Status::Backfill),
    ("profile_id", "sentry.profile_id", Status::Normalize),
    ("query", "db.query.text", Status::Backfill),
    ("redis.command", "db.operation.name", Status::Backfill),
    ("redis.key", "db.redis.key", Status::Backfill),
    ("release", "sentry.release", Status::Normalize),
    ("replay_id", "sentry.replay_id", Status::Normalize),
    (
        "resource.deployment.environment",
        "sentry.environment",
        Status::Backfill,
    ),
    (
        "resource.deployment.environment.name",
        "sentry.environment",
        Status::Backfill,
    ),
    ("rpc.system", "rpc.system.name", Status::Backfill),
    ("runtime.name", "process.runtime.name", Status::Backfill),
    (
        "runtime.raw_description",
        "process.runtime.description",
        Status::Backfill,
    ),
    (
        "runtime.version",
        "process.runtime.version",
        Status::Backfill,
    ),
    ("sentry.browser.name", "browser.name", Status::Backfill),
    (
        "sentry.browser.version",
        "browser.version",
        Status::Backfill,
    ),
    (
        "sentry.frames.frozen",
        "app.vitals.frames.frozen.count",
        Status::Backfill,
    ),
    (
        "sentry.frames.slow",
        "app.vitals.frames.slow.count",
        Status::Backfill,
    ),
    (
        "sentry.frames.total",
        "app.vitals.frames.total.count",
        Status::Backfill,
    ),
    ("sentry.segment_id", "sentry.segment.id", Status::Backfill),
    (
        "sentry.sveltekit.navigation.from",
        "router.navigation.origin",
        Status::Backfill,
    ),
    (
        "sentry.sveltekit.navigation.type",
        "router.navigation.type",
        Status::Backfill,
    ),
    ("sentry.thread.id", "thread.id", Status::Backfill),
    (
        "sentry.transaction",
        "sentry.segment.name",
        Status::Backfill,
    ),
    ("sentry.user.email", "user.email", Status::Backfill),
    ("sentry.user.geo.city", "user.geo.city", Status::Backfill),
    (
        "sentry.user.geo.country_code",
        "user.geo.country_code",
        Status::Backfill,
    ),
    (
        "sentry.user.geo.region",
        "user.geo.region",
        Status::Backfill,
    ),
    (
        "sentry.user.geo.subdivision",
        "user.geo.subdivision",
        Status::Backfill,
    ),
    ("sentry.user.id", "user.id", Status::Backfill),
    ("sentry.user.ip", "user.ip_address", Status::Backfill),
    ("sentry.user.username", "user.name", Status::Backfill),
    ("server_name", "server.address", Status::Backfill),
    (
        "stall_percentage",
        "app.vitals.stall.percentage",
        Status::Backfill,
    ),
    (
        "stall_total_time",
        "app.vitals.stall.duration",
        Status::Backfill,
    ),
    (
        "starlette.middleware_name",
        "middleware.name",
        Status::Backfill,
    ),
    (
        "starlite.middleware_name",
        "middleware.name",
        Status::Backfill,
    ),
    ("subprocess.pid", "process.pid", Status::Backfill),
    (
        "time_to_full_display",
        "app.vitals.ttfd.value",
        Status::Backfill,
    ),
    (
        "time_to_initial_display",
        "app.vitals.ttid.value",
        Status::Backfill,
    ),
    ("transaction", "sentry.segment.name", Status::Normalize),
    ("ttfb", "browser.web_vital.ttfb.value", Status::Backfill),
    (
        "ttfb.requestTime",
        "browser.web_vital.ttfb.request_time",
        Status::Backfill,
    ),
    (
        "turbo_module.arch",
        "react_native.architecture",
        Status::Backfill,
    ),
    (
        "turbo_module.method",
        "react_native.module.method",
        Status::Backfill,
    ),
    (
        "turbo_module.name",
        "react_native.module.name",
        Status::Backfill,
    ),
    (
        "turbo_module.top_module",
        "react_native.module.top.name",
        Status::Backfill,
    ),
    (
        "turbo_module.top_module_duration_ms",
        "react_native.module.top.duration",
        Status::Backfill,
    ),
    (
        "turbo_module.total_call_count",
        "react_native.module.call.count",
        Status::Backfill,
    ),
    (
        "turbo_module.total_duration_ms",
        "react_native.module.duration.total",
        Status::Backfill,
    ),
    (
        "turbo_module.total_error_count",
        "react_native.module.error.count",
        Status::Backfill,
    ),
    (
        "turbo_module.unique_methods",
        "react_native.module.call.distinct_count",
        Status::Backfill,
    ),
    (
        "turbo_modules.total_call_count",
        "react_native.module.call.count",
        Status::Backfill,
    ),
    (
        "turbo_modules.total_duration_ms",
        "react_native.module.duration.total",
        Status::Backfill,
    ),
    (
        "turbo_modules.total_error_count",
        "react_native.module.error.count",
        Status::Backfill,
    ),
    (
        "turbo_modules.unique_methods",
        "react_native.module.call.distinct_count",
        Status::Backfill,
    ),
    ("url", "url.full", Status::Backfill),
    (
        "url.path.params.<key>",
        "url.path.parameter.<key>",
        Status::Backfill,
    ),
    (
        "url.same_origin",
        "http.request.same_origin",
        Status::Backfill,
    ),
];

#[cfg(test)]
mod tests {
    use relay_event::{from_json, to_json};
    use serde_json::json;

    use super::*;

    /// A transaction with `trace_data` in its trace context and one span with `span_data`;
    /// returns both data objects after step 1, and `_meta`.
    fn run(trace_data: serde_json::Value, span_data: serde_json::Value) -> serde_json::Value {
        let input = json!({"type": "transaction", "contexts": {"trace": {"data": trace_data}},
            "spans": [{"data": span_data}]});
        let mut event: Annotated<Event> = from_json(input);
        if let Some(event) = event.value_mut() {
            normalize_span_conventions(event, true);
        }
        let output = to_json(&event).unwrap();
        json!([
            output["contexts"]["trace"]["data"],
            output["spans"][0]["data"],
            output["_meta"]
        ])
    }

    fn removed() -> serde_json::Value {
        json!({"": {"rem": [["attribute.deprecated", "x"]]}})
    }

    #[test]
    fn backfill_and_normalize() {
        // StoreNormalizer 0.10.1 with `normalize_spans`.
        let span = json!({"http.method": "GET", "db.operation": "SELECT", "environment": "prod",
            "http.status_code": 200, "url": "https://x"});
        assert_eq!(
            run(json!({"http.method": "GET"}), span),
            json!([
                {"http.method": "GET", "http.request.method": "GET"},
                {"db.operation": null, "db.operation.name": "SELECT", "environment": null,
                    "http.method": "GET", "http.request.method": "GET",
                    "http.response.status_code": 200, "http.status_code": 200,
                    "sentry.environment": "prod", "url": "https://x", "url.full": "https://x"},
                {"spans": {"0": {"data": {"db.operation": removed(),
                    "environment": removed()}}}}])
        );
    }

    #[test]
    fn existing_replacements_win() {
        let span = json!({"http.method": "GET", "http.request.method": "POST",
            "db.operation": "S", "db.operation.name": "T"});
        assert_eq!(
            run(json!({}), span)[1],
            json!({"db.operation": null, "db.operation.name": "T", "http.method": "GET",
                "http.request.method": "POST"})
        );
        // Several deprecated names for one replacement: the first in key order.
        let span = json!({"gen_ai.response.tool_calls": [{"name": "f"}],
            "gen_ai.response.text": ["a", "b"]});
        assert_eq!(
            run(json!({}), span)[1],
            json!({"gen_ai.output.messages": ["a", "b"], "gen_ai.response.text": null,
                "gen_ai.response.tool_calls": null})
        );
    }

    #[test]
    fn values_of_any_type_and_null() {
        let span = json!({"http.method": 7, "db.operation": null, "url": {"a": 1}});
        let output = run(json!({}), span);
        assert_eq!(
            output[1],
            json!({"db.operation": null, "http.method": 7, "http.request.method": 7,
                "url": {"a": 1}, "url.full": {"a": 1}})
        );
        assert_eq!(
            output[2],
            json!({"spans": {"0": {"data": {"db.operation": removed()}}}})
        );
    }

    #[test]
    fn key_placeholders_match_one_segment() {
        let trace = json!({"cls.source.1": "x", "url.path.params.id": "7",
            "cls.source.a.b": "y"});
        assert_eq!(
            run(trace, json!({}))[0],
            json!({"browser.web_vital.cls.source.1": "x", "cls.source.1": "x",
                "cls.source.a.b": "y", "url.path.parameter.id": "7",
                "url.path.params.id": "7"})
        );
    }

    #[test]
    fn only_transactions_with_span_normalization() {
        let data = |ty: &str, normalize_spans: bool| {
            let input = json!({"type": ty, "contexts": {"trace": {"data": {
                "http.method": "GET"}}}});
            let mut event: Annotated<Event> = from_json(input);
            if let Some(event) = event.value_mut() {
                normalize_span_conventions(event, normalize_spans);
            }
            to_json(&event).unwrap()["contexts"]["trace"]["data"].clone()
        };
        let unchanged = json!({"http.method": "GET"});
        assert_eq!(data("transaction", false), unchanged);
        assert_eq!(data("default", true), unchanged);
        assert_eq!(
            data("transaction", true),
            json!({"http.method": "GET", "http.request.method": "GET"})
        );
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(DEPRECATED_ATTRIBUTES
            .windows(2)
            .all(|pair| pair[0].0 < pair[1].0));
    }
}
