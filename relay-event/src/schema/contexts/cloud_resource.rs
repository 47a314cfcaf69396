//! [`CloudResourceContext`] (`type: cloud_resource`): the cloud resource the event came
//! from, with the dotted OpenTelemetry attribute names as keys.

use crate::{Annotated, FromValue, IntoValue, Object, ProcessValue, Value};

/// Cloud resource information.
#[derive(Clone, Debug, Default, PartialEq, FromValue, IntoValue, ProcessValue)]
#[metastructure(expectation = "an object")]
pub struct CloudResourceContext {
    /// The cloud provider (e.g. `aws`).
    #[metastructure(field = "cloud.provider")]
    pub cloud_provider: Annotated<String>,
    /// The cloud account id.
    #[metastructure(field = "cloud.account.id")]
    pub cloud_account_id: Annotated<String>,
    /// The region.
    #[metastructure(field = "cloud.region")]
    pub cloud_region: Annotated<String>,
    /// The availability zone.
    #[metastructure(field = "cloud.availability_zone")]
    pub cloud_availability_zone: Annotated<String>,
    /// The platform (e.g. `aws_ec2`).
    #[metastructure(field = "cloud.platform")]
    pub cloud_platform: Annotated<String>,
    /// The host id.
    #[metastructure(field = "host.id")]
    pub host_id: Annotated<String>,
    /// The host type.
    #[metastructure(field = "host.type")]
    pub host_type: Annotated<String>,
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
    fn dotted_names() {
        let input = json!({"cloud.provider": "aws", "host.id": "h", "cloud.x": 1});
        let cloud: Annotated<CloudResourceContext> = from_json(input.clone());
        assert_eq!(to_json(&cloud).ok(), Some(input));
        let cloud = cloud.value().cloned().unwrap_or_default();
        assert_eq!(
            cloud.cloud_provider.value().map(String::as_str),
            Some("aws")
        );
    }
}
