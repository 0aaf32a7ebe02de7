//! An HTTP GET through a fresh port-forward to a pod, for checks such as "the page shows the new version".

use crate::cluster::diagnose::cause_chain;
use crate::error::{Error, Result};
use gitops_lab_protocol::Text;
use hyper::body::Body;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};
use std::pin::Pin;
use std::time::Duration;

/// How long the whole exchange may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a body that is kept.
const MAX_BODY: usize = 1024 * 1024;

/// What the pod answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpAnswer {
    /// The HTTP status code.
    pub status: u16,
    /// The body as text (lossy UTF-8, at most 1 MiB).
    pub body: String,
}

/// Sends `GET path` to `port` of `pod` through a port-forward opened for this request only.
pub async fn http_get(client: &Client, namespace: &str, pod: &str, port: u16, path: &str) -> Result<HttpAnswer> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut forwarder = pods.portforward(pod, &[port]).await?;
    let stream = forwarder.take_stream(port).ok_or_else(|| failed(pod, port, path, "no stream for the port"))?;
    let refused = forwarder.take_error(port);
    let exchange = tokio::time::timeout(TIMEOUT, get(stream, path)).await;
    forwarder.abort();
    match exchange {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(detail)) => {
            // The pod's side says why (nothing listens on the port) on the error channel.
            let said = match refused {
                Some(said) => tokio::time::timeout(Duration::from_millis(200), said).await.ok().flatten(),
                None => None,
            };
            Err(failed(pod, port, path, &said.unwrap_or(detail)))
        }
        Err(_) => Err(failed(pod, port, path, "no answer within 10 seconds")),
    }
}

/// One HTTP/1.1 exchange over the forwarded stream.
async fn get(stream: tokio::io::DuplexStream, path: &str) -> Result<HttpAnswer, String> {
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, String>(TokioIo::new(stream)).await.map_err(|e| cause_chain(&e))?;
    let driver = tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONNECTION, "close")
        .body(String::new())
        .map_err(|e| e.to_string())?;
    let response = sender.send_request(request).await.map_err(|e| cause_chain(&e))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| cause_chain(&e))?;
        if let Some(data) = frame.data_ref() {
            let room = MAX_BODY.saturating_sub(bytes.len());
            bytes.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    driver.abort();
    Ok(HttpAnswer { status, body: String::from_utf8_lossy(&bytes).into_owned() })
}

fn failed(pod: &str, port: u16, path: &str, detail: &str) -> Error {
    Error::explained(
        "http-failed",
        Text::new(
            format!("GET {path} on port {port} of pod {pod} got no answer: {detail}"),
            format!("对 Pod {pod} 的端口 {port} 发送 GET {path} 没有得到响应：{detail}"),
        ),
        Some(Text::new(
            "Check that the pod is running and that its container listens on that port (containerPort).",
            "请确认 Pod 正在运行，并且它的容器在该端口（containerPort）上监听。",
        )),
    )
}
