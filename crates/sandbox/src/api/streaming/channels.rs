//! The `channel.k8s.io` WebSocket framing of exec, attach and kube-rs' port-forward: every binary
//! message is one channel byte followed by that channel's bytes.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Value, json};

/// Standard input (client to server).
pub const STDIN: u8 = 0;
/// Standard output.
pub const STDOUT: u8 = 1;
/// Standard error.
pub const STDERR: u8 = 2;
/// The final `Status` of an exec or attach (v4 and later).
pub const STATUS: u8 = 3;
/// Terminal size changes (client to server), JSON `{"Width":…,"Height":…}`.
pub const RESIZE: u8 = 4;
/// v5: "I will send no more on channel N" (payload: N).
pub const CLOSE: u8 = 255;

/// The exec/attach subprotocols served, best first: v5 adds the close signal kubectl 1.30+ uses.
pub const EXEC_PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Whether a negotiated subprotocol understands the close channel.
pub fn supports_close(protocol: &str) -> bool {
    protocol == EXEC_PROTOCOLS[0]
}

/// The close frame that ends a session cleanly: clients treat anything but code 1000 as an error.
pub fn normal_close() -> axum::extract::ws::CloseFrame {
    axum::extract::ws::CloseFrame { code: axum::extract::ws::close_code::NORMAL, reason: "".into() }
}

/// One message: the channel byte, then the payload.
pub fn frame(channel: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 1);
    out.put_u8(channel);
    out.put_slice(payload);
    out.freeze()
}

/// The channel and payload of a message; `None` for an empty message.
pub fn split(message: &[u8]) -> Option<(u8, &[u8])> {
    message.split_first().map(|(channel, payload)| (*channel, payload))
}

/// The `Status` a process's exit code turns into: Success for 0, otherwise the NonZeroExitCode
/// failure whose ExitCode cause kubectl turns into `command terminated with exit code N`.
pub fn exit_status(code: i32, command: &[String]) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    let message = format!(
        "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
        command.join(" ")
    );
    json!({
        "metadata": {}, "status": "Failure", "message": message, "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// A failure `Status` for a session that cannot go on (kubectl prints its message).
pub fn failure_status(message: &str) -> Value {
    json!({"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError", "code": 500})
}

/// A terminal size from a resize message: (columns, rows).
pub fn parse_resize(payload: &[u8]) -> Option<(u16, u16)> {
    let value: Value = serde_json::from_slice(payload).ok()?;
    let dimension = |key: &str| value.get(key)?.as_u64().and_then(|n| u16::try_from(n).ok());
    Some((dimension("Width")?, dimension("Height")?))
}

/// The two bytes that open each port-forward channel: the port, little-endian.
pub fn port_prefix(port: u16) -> [u8; 2] {
    port.to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_the_channel_byte_then_the_payload() {
        assert_eq!(&frame(STDOUT, b"hi\n")[..], b"\x01hi\n");
        assert_eq!(split(b"\x00abc"), Some((STDIN, &b"abc"[..])));
        assert_eq!(split(b"\xff\x00"), Some((CLOSE, &b"\x00"[..])));
        assert_eq!(split(b""), None);
    }

    #[test]
    fn exit_zero_is_success_and_others_carry_the_code_as_a_cause() {
        assert_eq!(exit_status(0, &[]), json!({"metadata": {}, "status": "Success"}));
        let failed = exit_status(1, &["false".to_string()]);
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"], json!([{"reason": "ExitCode", "message": "1"}]));
        assert!(failed["message"].as_str().unwrap().contains("[false]"));
    }

    #[test]
    fn resize_messages_read_width_then_height_and_reject_garbage() {
        assert_eq!(parse_resize(br#"{"Width":120,"Height":40}"#), Some((120, 40)));
        assert_eq!(parse_resize(br#"{"Width":120}"#), None);
        assert_eq!(parse_resize(br#"{"Width":70000,"Height":1}"#), None);
        assert_eq!(parse_resize(b"nope"), None);
    }

    #[test]
    fn port_prefixes_are_little_endian() {
        assert_eq!(port_prefix(80), [80, 0]);
        assert_eq!(port_prefix(8080), [0x90, 0x1f]);
    }

    #[test]
    fn only_v5_has_the_close_channel() {
        assert!(supports_close("v5.channel.k8s.io"));
        assert!(!supports_close("v4.channel.k8s.io"));
    }
}
