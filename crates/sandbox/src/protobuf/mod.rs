//! Decoding of the protobuf bodies kubectl's `create <kind>` generators send (`application/vnd.kubernetes.protobuf`).

use serde_json::Value;

/// Why a protobuf body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body is not a Kubernetes protobuf envelope or message this server reads.
    #[error("{0}")]
    Unreadable(String),
}

/// Decodes an envelope (`k8s\0` + runtime.Unknown) into the JSON object it carries.
pub fn decode(_body: &[u8]) -> Result<Value, ProtobufError> {
    Err(ProtobufError::Unreadable("protobuf bodies are not supported yet; send JSON".into()))
}
