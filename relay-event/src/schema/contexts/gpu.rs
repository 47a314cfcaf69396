//! [`GpuContext`] (`type: gpu`): the graphics device.
//!
//! `id` (the PCI identifier) has no fixed type in the schema and is kept as any value.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Graphics device information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct GpuContext {
    /// The name of the graphics device.
    pub name: Annotated<String>,
    /// The version of the graphics device.
    pub version: Annotated<String>,
    /// The PCI identifier of the graphics device.
    pub id: Annotated<Value>,
    /// The PCI vendor identifier.
    pub vendor_id: Annotated<String>,
    /// The vendor name.
    pub vendor_name: Annotated<String>,
    /// The video memory in megabytes.
    pub memory_size: Annotated<u64>,
    /// The graphics API (e.g. `Metal`).
    pub api_type: Annotated<String>,
    /// Whether the device renders multi-threaded.
    pub multi_threaded_rendering: Annotated<bool>,
    /// The non-power-of-two texture support.
    pub npot_support: Annotated<String>,
    /// The largest texture size.
    pub max_texture_size: Annotated<u64>,
    /// The shader capability level.
    pub graphics_shader_level: Annotated<String>,
    /// Whether draw call instancing is supported.
    pub supports_draw_call_instancing: Annotated<bool>,
    /// Whether ray tracing is supported.
    pub supports_ray_tracing: Annotated<bool>,
    /// Whether compute shaders are supported.
    pub supports_compute_shaders: Annotated<bool>,
    /// Whether geometry shaders are supported.
    pub supports_geometry_shaders: Annotated<bool>,
    /// Unknown attributes.
    #[metastructure(additional_properties)]
    pub other: Object<Value>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{from_json, to_json};

    #[test]
    fn id_is_any_value() {
        let input = json!({"name": "GeForce", "id": 7, "memory_size": 8192, "extra": [1]});
        let gpu: Annotated<GpuContext> = from_json(input.clone());
        assert_eq!(to_json(&gpu).ok(), Some(input));
    }
}
