//! [`DeviceContext`] (`type: device`): the device the event was created on.
//!
//! Fields and types from the published event schema; `uuid` is kept as a string.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Device information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct DeviceContext {
    /// The name of the device (e.g. `iPhone of Jane`).
    pub name: Annotated<String>,
    /// The family of the device (e.g. `iPhone`).
    pub family: Annotated<String>,
    /// The model name.
    pub model: Annotated<String>,
    /// The internal model identifier.
    pub model_id: Annotated<String>,
    /// The CPU architecture.
    pub arch: Annotated<String>,
    /// The battery level in percent (0–100).
    pub battery_level: Annotated<f64>,
    /// The screen orientation (`portrait` or `landscape`).
    pub orientation: Annotated<String>,
    /// The manufacturer.
    pub manufacturer: Annotated<String>,
    /// The brand.
    pub brand: Annotated<String>,
    /// The screen resolution (e.g. `800x600`).
    pub screen_resolution: Annotated<String>,
    /// The screen height in pixels.
    pub screen_height_pixels: Annotated<u64>,
    /// The screen width in pixels.
    pub screen_width_pixels: Annotated<u64>,
    /// The screen density.
    pub screen_density: Annotated<f64>,
    /// The screen density in dots per inch.
    pub screen_dpi: Annotated<u64>,
    /// Whether the device was online.
    pub online: Annotated<bool>,
    /// Whether the device was charging.
    pub charging: Annotated<bool>,
    /// Whether the device was low on memory.
    pub low_memory: Annotated<bool>,
    /// Whether the device is a simulator or emulator.
    pub simulator: Annotated<bool>,
    /// Total memory in bytes.
    pub memory_size: Annotated<u64>,
    /// Free memory in bytes.
    pub free_memory: Annotated<u64>,
    /// Memory usable by the app in bytes.
    pub usable_memory: Annotated<u64>,
    /// Total storage in bytes.
    pub storage_size: Annotated<u64>,
    /// Free storage in bytes.
    pub free_storage: Annotated<u64>,
    /// Total external storage in bytes.
    pub external_storage_size: Annotated<u64>,
    /// Free external storage in bytes.
    pub external_free_storage: Annotated<u64>,
    /// When the device was booted (ISO 8601 text).
    pub boot_time: Annotated<String>,
    /// The timezone of the device.
    pub timezone: Annotated<String>,
    /// The locale of the device.
    pub locale: Annotated<String>,
    /// The number of processors.
    pub processor_count: Annotated<u64>,
    /// A description of the CPU.
    pub cpu_description: Annotated<String>,
    /// The processor frequency in MHz.
    pub processor_frequency: Annotated<u64>,
    /// The kind of device (e.g. `Handheld`).
    pub device_type: Annotated<String>,
    /// The battery status (e.g. `Charging`).
    pub battery_status: Annotated<String>,
    /// A unique device identifier.
    pub device_unique_identifier: Annotated<String>,
    /// Whether the device supports vibration.
    pub supports_vibration: Annotated<bool>,
    /// Whether the device supports an accelerometer.
    pub supports_accelerometer: Annotated<bool>,
    /// Whether the device supports a gyroscope.
    pub supports_gyroscope: Annotated<bool>,
    /// Whether the device supports audio.
    pub supports_audio: Annotated<bool>,
    /// Whether the device supports location services.
    pub supports_location_service: Annotated<bool>,
    /// The UUID of the device (kept as text).
    pub uuid: Annotated<String>,
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
    fn parses_device_fields() {
        let input = json!({"name": "iPhone", "battery_level": 42, "memory_size": 3137978368u64,
            "simulator": false, "class": "high"});
        let device: Annotated<DeviceContext> = from_json(input);
        let device = device.value().cloned().unwrap_or_default();
        assert_eq!(device.battery_level.value(), Some(&42.0));
        assert_eq!(device.memory_size.value(), Some(&3137978368));
        assert!(device.other.contains_key("class"));

        let device: Annotated<DeviceContext> = from_json(json!({"memory_size": -1}));
        let output = to_json(&device).unwrap_or_default();
        assert_eq!(output["_meta"]["memory_size"][""]["val"], -1);
        assert_eq!(
            output["_meta"]["memory_size"][""]["err"][0][0],
            "invalid_data"
        );
    }
}
