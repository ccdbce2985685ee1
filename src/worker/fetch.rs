//! The Worker's [`Transport`]: workerd's fetch with the target policy checked first (https,
//! no private targets unless `ALLOW_PRIVATE_TARGETS`), redirects not followed, a timeout on
//! the whole exchange and the body read up to its cap.

use futures_util::StreamExt;
use worker::{AbortSignal, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use crate::target::TargetPolicy;
use crate::transport::{
    HttpRequest, HttpResponse, SendFuture, Transport, TransportError, TransportErrorKind,
};

pub struct WorkerTransport {
    pub policy: TargetPolicy,
}

impl Transport for WorkerTransport {
    fn send(&self, request: HttpRequest) -> SendFuture<'_> {
        let policy = self.policy;
        Box::pin(async move {
            if let Err(refusal) = policy.check_str(&request.url) {
                return Err(TransportError::new(
                    TransportErrorKind::Blocked,
                    refusal.message(&request.url),
                ));
            }
            let signal =
                AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(request.timeout_ms));
            let failed = |e: worker::Error, signal: &AbortSignal| {
                if signal.aborted() {
                    TransportError::new(
                        TransportErrorKind::Timeout,
                        format!("no answer within {} ms", request.timeout_ms),
                    )
                } else {
                    TransportError::new(TransportErrorKind::Network, e.to_string())
                }
            };
            let headers = Headers::new();
            for (name, value) in &request.headers {
                headers
                    .append(name, value)
                    .map_err(|e| failed(e, &signal))?;
            }
            let mut init = RequestInit::new();
            init.with_method(Method::from(request.method.as_str().to_owned()))
                .with_headers(headers)
                .with_redirect(RequestRedirect::Manual);
            if let Some(body) = &request.body {
                init.with_body(Some(body.as_str().into()));
            }
            let req =
                Request::new_with_init(&request.url, &init).map_err(|e| failed(e, &signal))?;
            let mut resp = Fetch::Request(req)
                .send_with_signal(&signal)
                .await
                .map_err(|e| failed(e, &signal))?;
            let status = resp.status_code();
            let headers: Vec<(String, String)> = resp.headers().entries().collect();
            let mut body = Vec::new();
            let mut body_too_large = false;
            if request.max_body_bytes > 0 {
                let mut stream = resp.stream().map_err(|e| failed(e, &signal))?;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| failed(e, &signal))?;
                    if body.len() + chunk.len() > request.max_body_bytes {
                        body_too_large = true;
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
            }
            Ok(HttpResponse {
                status,
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
                body_too_large,
            })
        })
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}
