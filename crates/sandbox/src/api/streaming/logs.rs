//! `GET …/pods/{name}/log`: a container's output as plain text, streamed while following.

use super::{Streams, find_pod, flag, pick_container, value};
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt, stream};
use gitops_sandbox_core::errors::{ApiError, ApiResult};
use gitops_sandbox_core::object;
use gitops_sandbox_node::LogLine;
use serde_json::Value;
use std::convert::Infallible;
use tokio::sync::broadcast;

/// The `PodLogOptions` the sandbox honours.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogOptions {
    /// `container` ("" = the pod's only container).
    pub container: String,
    /// `follow`: keep the answer open and stream new lines.
    pub follow: bool,
    /// `previous`: the last terminated run.
    pub previous: bool,
    /// `timestamps`: prefix each line with when it was written.
    pub timestamps: bool,
    /// `tailLines`: only the last N lines of the history.
    pub tail_lines: Option<usize>,
    /// `sinceSeconds` / `sinceTime`: only lines written at or after this instant.
    pub since: Option<jiff::Timestamp>,
    /// `limitBytes`: stop after this many bytes.
    pub limit_bytes: Option<usize>,
}

impl LogOptions {
    /// Reads the query; invalid numbers are 400s worded like upstream's validation.
    pub fn parse(pairs: &[(String, String)], now: jiff::Timestamp) -> ApiResult<Self> {
        let mut opts = LogOptions {
            container: value(pairs, "container").to_string(),
            follow: flag(pairs, "follow"),
            previous: flag(pairs, "previous"),
            timestamps: flag(pairs, "timestamps"),
            ..Self::default()
        };
        if let Some(n) = number(pairs, "tailLines")? {
            opts.tail_lines =
                Some(usize::try_from(n).map_err(|_| invalid("tailLines", n, "must be greater than or equal to 0"))?);
        }
        if let Some(n) = number(pairs, "limitBytes")? {
            if n < 1 {
                return Err(invalid("limitBytes", n, "must be greater than 0"));
            }
            opts.limit_bytes = Some(usize::try_from(n).unwrap_or(usize::MAX));
        }
        if let Some(n) = number(pairs, "sinceSeconds")? {
            if n < 1 {
                return Err(invalid("sinceSeconds", n, "must be greater than 0"));
            }
            opts.since = now.checked_sub(jiff::SignedDuration::from_secs(n)).ok();
        }
        let since_time = value(pairs, "sinceTime");
        if !since_time.is_empty() {
            if opts.since.is_some() {
                return Err(ApiError::bad_request("at most one of `sinceTime` or `sinceSeconds` may be specified"));
            }
            let at = since_time.parse().map_err(|_| {
                ApiError::bad_request(format!("sinceTime must be an RFC 3339 time, not {since_time:?}"))
            })?;
            opts.since = Some(at);
        }
        Ok(opts)
    }
}

fn number(pairs: &[(String, String)], key: &str) -> ApiResult<Option<i64>> {
    let text = value(pairs, key);
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| ApiError::bad_request(format!("{key} must be a whole number, not {text:?}")))
}

fn invalid(field: &str, n: i64, why: &str) -> ApiError {
    ApiError::unprocessable(format!("PodLogOptions \"\" is invalid: {field}: Invalid value: {n}: {why}"))
}

/// Serves one log request.
pub fn handle(s: &Streams, namespace: &str, name: &str, pairs: &[(String, String)]) -> ApiResult<Response> {
    let opts = LogOptions::parse(pairs, jiff::Timestamp::now())?;
    let pod = find_pod(&s.sandbox, namespace, name)?;
    let container = pick_container(&pod, &opts.container)?;
    if pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty() {
        // Upstream answers an empty log for a pod no node has taken yet.
        return Ok(text_response(Body::empty()));
    }
    if let Some(message) = not_loggable(&pod, &container, opts.previous) {
        return Err(ApiError::bad_request(message));
    }
    let log =
        s.pods.logs(namespace, name, &container, opts.previous).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let history: Vec<Bytes> = select(&log.lines, &opts).into_iter().map(|line| render(line, opts.timestamps)).collect();
    let follow = if opts.follow { log.follow } else { None };
    let body = limit(stream::iter(history).chain(followed(follow, opts.timestamps)), opts.limit_bytes);
    Ok(text_response(Body::from_stream(body.map(Ok::<_, Infallible>))))
}

fn text_response(body: Body) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// The kubelet's refusal for a container whose state has no log to show, in its words.
fn not_loggable(pod: &Value, container: &str, previous: bool) -> Option<String> {
    let pod_name = object::name(pod);
    let status = ["containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"]
        .iter()
        .filter_map(|list| pod["status"][list].as_array())
        .flatten()
        .find(|s| s["name"] == container);
    let waiting =
        |reason: &str| Some(format!("container {container:?} in pod {pod_name:?} is waiting to start: {reason}"));
    let Some(status) = status else {
        // The kubelet has not reported the container yet: it is still being created.
        return waiting("ContainerCreating");
    };
    let state = &status["state"];
    let ran_before = status["lastState"]["terminated"].is_object();
    if previous {
        return (!ran_before)
            .then(|| format!("previous terminated container {container:?} in pod {pod_name:?} not found"));
    }
    if state["running"].is_object() || state["terminated"].is_object() || ran_before {
        return None;
    }
    match state["waiting"]["reason"].as_str() {
        Some("ErrImagePull") => waiting("image can't be pulled"),
        Some("ImagePullBackOff") => waiting("trying and failing to pull image"),
        Some(reason) => waiting(reason),
        None => Some(format!("container {container:?} in pod {pod_name:?} is waiting to start - no logs yet")),
    }
}

/// The history lines a request asks for: those since the start time, then the last `tailLines`.
pub fn select<'a>(lines: &'a [LogLine], opts: &LogOptions) -> Vec<&'a LogLine> {
    let recent: Vec<&LogLine> = lines.iter().filter(|l| opts.since.is_none_or(|since| l.at >= since)).collect();
    let skip = opts.tail_lines.map_or(0, |n| recent.len().saturating_sub(n));
    recent[skip..].to_vec()
}

/// A line as the client reads it, with upstream's fixed-width RFC 3339 timestamp when asked.
pub fn render(line: &LogLine, timestamps: bool) -> Bytes {
    if !timestamps {
        return line.text.clone();
    }
    let mut out = format!("{} ", timestamp(line.at)).into_bytes();
    out.extend_from_slice(&line.text);
    Bytes::from(out)
}

/// `2006-01-02T15:04:05.000000000Z`: always nine fractional digits, as the kubelet writes them.
pub fn timestamp(at: jiff::Timestamp) -> String {
    format!("{}.{:09}Z", at.strftime("%Y-%m-%dT%H:%M:%S"), at.subsec_nanosecond())
}

/// New lines until the container ends (the sender closes) or the client leaves (the body drops).
fn followed(receiver: Option<broadcast::Receiver<LogLine>>, timestamps: bool) -> impl Stream<Item = Bytes> + Send {
    stream::unfold(receiver, move |receiver| async move {
        let mut receiver = receiver?;
        loop {
            match receiver.recv().await {
                Ok(line) => return Some((render(&line, timestamps), Some(receiver))),
                // A reader too slow for the buffer loses lines, as a rotated log would.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

/// Cuts the stream after `limit` bytes (the last chunk is shortened to fit).
pub fn limit<S: Stream<Item = Bytes> + Send>(chunks: S, limit: Option<usize>) -> impl Stream<Item = Bytes> + Send {
    chunks.scan(limit, |left, mut chunk| {
        let next = match left {
            None => Some(chunk),
            Some(0) => None,
            Some(n) => {
                chunk.truncate(*n);
                *n -= chunk.len();
                Some(chunk)
            }
        };
        std::future::ready(next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gitops_sandbox_core::errors::Reason;
    use serde_json::json;

    fn at(seconds: i64, nanos: i32) -> jiff::Timestamp {
        jiff::Timestamp::new(seconds, nanos).unwrap()
    }

    fn lines() -> Vec<LogLine> {
        (0..5)
            .map(|i| LogLine { at: at(1_800_000_000 + i * 10, 5), text: Bytes::from(format!("line {i}\n")) })
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn texts(selected: Vec<&LogLine>) -> Vec<String> {
        selected.iter().map(|l| String::from_utf8_lossy(&l.text).trim().to_string()).collect()
    }

    #[test]
    fn tail_lines_keeps_the_last_n_lines() {
        let opts = LogOptions { tail_lines: Some(2), ..Default::default() };
        assert_eq!(texts(select(&lines(), &opts)), ["line 3", "line 4"]);
        let opts = LogOptions { tail_lines: Some(0), ..Default::default() };
        assert!(select(&lines(), &opts).is_empty());
        let opts = LogOptions { tail_lines: Some(99), ..Default::default() };
        assert_eq!(select(&lines(), &opts).len(), 5);
    }

    #[test]
    fn since_seconds_drops_older_lines_before_tailing() {
        let now = at(1_800_000_041, 0);
        let opts = LogOptions::parse(&pairs(&[("sinceSeconds", "25"), ("tailLines", "5")]), now).unwrap();
        assert_eq!(texts(select(&lines(), &opts)), ["line 2", "line 3", "line 4"]);
    }

    #[test]
    fn timestamps_have_nine_fractional_digits_and_a_space() {
        let line = LogLine { at: at(1_800_000_000, 1_500), text: Bytes::from_static(b"hi\n") };
        assert_eq!(&render(&line, true)[..], b"2027-01-15T08:00:00.000001500Z hi\n");
        assert_eq!(&render(&line, false)[..], b"hi\n");
    }

    #[test]
    fn limit_bytes_cuts_inside_a_line_and_stops() {
        let chunks = stream::iter(vec![
            Bytes::from_static(b"abc\n"),
            Bytes::from_static(b"def\n"),
            Bytes::from_static(b"ghi\n"),
        ]);
        let out: Vec<Bytes> = futures::executor::block_on(limit(chunks, Some(6)).collect());
        assert_eq!(out.concat(), b"abc\nde");
        let chunks = stream::iter(vec![Bytes::from_static(b"abc\n")]);
        let out: Vec<Bytes> = futures::executor::block_on(limit(chunks, None).collect());
        assert_eq!(out.concat(), b"abc\n");
    }

    #[test]
    fn bad_numbers_are_refused_with_the_field_named() {
        let now = jiff::Timestamp::now();
        assert!(LogOptions::parse(&pairs(&[("limitBytes", "0")]), now).unwrap_err().message.contains("limitBytes"));
        assert!(LogOptions::parse(&pairs(&[("tailLines", "-1")]), now).unwrap_err().message.contains("tailLines"));
        assert_eq!(LogOptions::parse(&pairs(&[("tailLines", "x")]), now).unwrap_err().reason, Reason::BadRequest);
        let flags =
            LogOptions::parse(&pairs(&[("follow", "true"), ("previous", "1"), ("container", "web")]), now).unwrap();
        assert!(flags.follow && flags.previous && flags.container == "web");
    }

    #[test]
    fn a_waiting_container_is_refused_with_the_kubelet_words() {
        let pod = json!({"metadata": {"name": "web"}, "status": {"containerStatuses": [
            {"name": "nginx", "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(
            not_loggable(&pod, "nginx", false).unwrap(),
            r#"container "nginx" in pod "web" is waiting to start: ContainerCreating"#
        );
        assert_eq!(
            not_loggable(&pod, "nginx", true).unwrap(),
            r#"previous terminated container "nginx" in pod "web" not found"#
        );
        let running = json!({"metadata": {"name": "web"}, "status": {"containerStatuses": [
            {"name": "nginx", "state": {"running": {}}, "lastState": {"terminated": {"exitCode": 137}}}]}});
        assert_eq!(not_loggable(&running, "nginx", false), None);
        assert_eq!(not_loggable(&running, "nginx", true), None);
    }

    #[test]
    fn following_ends_when_the_container_stops_writing() {
        let (sender, receiver) = broadcast::channel(8);
        sender.send(LogLine { at: at(1_800_000_000, 0), text: Bytes::from_static(b"late\n") }).unwrap();
        drop(sender);
        let out: Vec<Bytes> = futures::executor::block_on(followed(Some(receiver), false).collect());
        assert_eq!(out.concat(), b"late\n");
    }
}
