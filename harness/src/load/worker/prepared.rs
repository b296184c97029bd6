//! The requests a worker sends, prepared once: the single GET of `target.path` with its range,
//! or one per mix entry; and the one shared buffer every write body is a slice of.

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, HOST, RANGE};
use hyper::{Method, Request, Uri};

use super::check::Expect;
use crate::load::mix::{self, Draw, KEY};
use crate::load::plan::LoadPlan;

/// One kind of request, ready to send but for its key and body.
pub(super) struct Prepared {
    method: Method,
    /// The path when it has no `{key}`.
    fixed: Option<Uri>,
    /// The path before and after `{key}`.
    head: String,
    tail: String,
    /// The `Range` header and the answer it asks for; `None`: no `Range`, any 2xx is ok.
    pub(super) range: Option<(HeaderValue, Expect)>,
}

/// Every kind of request of a plan, and the bytes write bodies are cut from.
pub(super) struct Requests {
    pub(super) kinds: Vec<Prepared>,
    host: HeaderValue,
    /// As long as the largest write body: each body is a slice of it, so sending one allocates
    /// nothing of its size.
    body: Bytes,
}

fn header(what: &str, v: &str) -> anyhow::Result<HeaderValue> {
    HeaderValue::from_str(v).with_context(|| format!("{what} {v:?} is not a valid header"))
}

fn range(r: (u64, u64)) -> anyhow::Result<(HeaderValue, Expect)> {
    let h = header("range", &format!("bytes={}-{}", r.0, r.1))?;
    Ok((
        h,
        Expect {
            start: r.0,
            end: r.1,
        },
    ))
}

impl Requests {
    pub(super) fn of(plan: &LoadPlan) -> anyhow::Result<Requests> {
        let host = header("host", &plan.target.authority)?;
        let Some(m) = &plan.mix else {
            let path = &plan.target.path;
            let kind = Prepared {
                method: Method::GET,
                fixed: Some(
                    path.parse()
                        .with_context(|| format!("bad request path {path:?}"))?,
                ),
                head: String::new(),
                tail: String::new(),
                range: Some(range(plan.range)?),
            };
            return Ok(Requests {
                kinds: vec![kind],
                host,
                body: Bytes::new(),
            });
        };
        let kinds = m
            .entries
            .iter()
            .map(prepare)
            .collect::<anyhow::Result<_>>()?;
        let largest = m
            .entries
            .iter()
            .filter_map(|e| e.body.map(|b| b.1))
            .max()
            .unwrap_or(0)
            .min(mix::MAX_BODY);
        Ok(Requests {
            kinds,
            host,
            body: Bytes::from(vec![0x5A; largest as usize]),
        })
    }

    /// The request of `draw`: its entry's method and range, its key in the path, a body of
    /// its size.
    pub(super) fn build(&self, draw: &Draw) -> anyhow::Result<Request<Full<Bytes>>> {
        let kind = &self.kinds[draw.entry];
        let uri = match &kind.fixed {
            Some(u) => u.clone(),
            None => format!("{}{}{}", kind.head, draw.key, kind.tail).parse()?,
        };
        // An empty `Full` is an empty body: no `Content-Length`, the GET of before byte for byte.
        let len = (draw.body as usize).min(self.body.len());
        let mut req = Request::new(Full::new(self.body.slice(..len)));
        *req.method_mut() = kind.method.clone();
        *req.uri_mut() = uri;
        req.headers_mut().insert(HOST, self.host.clone());
        if let Some((h, _)) = &kind.range {
            req.headers_mut().insert(RANGE, h.clone());
        }
        Ok(req)
    }
}

fn prepare(e: &mix::MixEntry) -> anyhow::Result<Prepared> {
    let method = match e.method {
        mix::Method::Get => Method::GET,
        mix::Method::Put => Method::PUT,
        mix::Method::Post => Method::POST,
    };
    let (fixed, head, tail) = match e.path.split_once(KEY) {
        Some((h, t)) => {
            // Checked once here, with a key, so that a bad path stops the worker at its start
            // rather than failing every request.
            format!("{h}0{t}")
                .parse::<Uri>()
                .with_context(|| format!("bad request path {:?}", e.path))?;
            (None, h.to_string(), t.to_string())
        }
        None => (
            Some(
                e.path
                    .parse()
                    .with_context(|| format!("bad request path {:?}", e.path))?,
            ),
            String::new(),
            String::new(),
        ),
    };
    Ok(Prepared {
        method,
        fixed,
        head,
        tail,
        range: e.range.map(range).transpose()?,
    })
}
