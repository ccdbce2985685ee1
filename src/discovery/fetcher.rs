//! The set of requests one discovery has in flight. Requests may be launched early
//! (speculatively) and awaited later in the order the procedure needs them; a request launched
//! twice is sent once. Every request sent gets a trace entry, in the order sent.

use std::cell::RefCell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::discovery_result::{Outcome, TraceEntry};
use crate::transport::{
    HttpRequest, HttpResponse, Method, SendFuture, Transport, TransportError, TransportErrorKind,
};

/// What a request came to: shared, because a speculative request may be awaited more than once.
pub(crate) type Answer = Rc<Result<HttpResponse, TransportError>>;

#[derive(PartialEq, Eq)]
struct Key {
    method: Method,
    url: String,
    max_body_bytes: usize,
}

struct Slot<'t> {
    key: Key,
    started_ms: f64,
    pending: Option<SendFuture<'t>>,
    answer: Option<Answer>,
    entry: TraceEntry,
}

pub(crate) struct Fetcher<'t> {
    transport: &'t dyn Transport,
    slots: RefCell<Vec<Slot<'t>>>,
    on_step: Option<&'t dyn Fn(&TraceEntry)>,
}

/// A launched request, to be awaited with [`Fetcher::answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket(usize);

impl<'t> Fetcher<'t> {
    pub(crate) fn new(
        transport: &'t dyn Transport,
        on_step: Option<&'t dyn Fn(&TraceEntry)>,
    ) -> Self {
        Fetcher {
            transport,
            slots: RefCell::new(Vec::new()),
            on_step,
        }
    }

    /// Sends a request unless the same one is already under way.
    pub(crate) fn launch(&self, request: HttpRequest) -> Ticket {
        let key = Key {
            method: request.method,
            url: request.url.clone(),
            max_body_bytes: request.max_body_bytes,
        };
        let mut slots = self.slots.borrow_mut();
        if let Some(i) = slots.iter().position(|s| s.key == key) {
            return Ticket(i);
        }
        let entry = TraceEntry {
            method: request.method.as_str().to_owned(),
            url: request.url.clone(),
            status: None,
            ms: 0,
            outcome: Outcome::Skipped,
        };
        let started_ms = self.transport.now_ms();
        let pending = Some(self.transport.send(request));
        slots.push(Slot {
            key,
            started_ms,
            pending,
            answer: None,
            entry,
        });
        Ticket(slots.len() - 1)
    }

    /// Waits for a launched request, driving every request in flight meanwhile.
    pub(crate) async fn answer(&self, ticket: Ticket) -> Answer {
        poll_fn(|cx| self.poll_answer(ticket, cx)).await
    }

    fn poll_answer(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<Answer> {
        let mut finished = Vec::new();
        let answer = {
            let mut slots = self.slots.borrow_mut();
            for slot in slots.iter_mut() {
                let Some(fut) = slot.pending.as_mut() else {
                    continue;
                };
                if let Poll::Ready(result) = fut.as_mut().poll(cx) {
                    slot.pending = None;
                    slot.entry.ms = round_ms(self.transport.now_ms() - slot.started_ms);
                    match &result {
                        Ok(resp) => slot.entry.status = (resp.status != 0).then_some(resp.status),
                        Err(e) => {
                            slot.entry.outcome = match e.kind {
                                TransportErrorKind::Timeout => Outcome::Timeout,
                                _ => Outcome::NetworkError,
                            }
                        }
                    }
                    slot.answer = Some(Rc::new(result));
                    finished.push(slot.entry.clone());
                }
            }
            slots[ticket.0].answer.clone()
        };
        if let Some(on_step) = self.on_step {
            for entry in &finished {
                on_step(entry);
            }
        }
        match answer {
            Some(a) => Poll::Ready(a),
            None => Poll::Pending,
        }
    }

    /// Records that a request's answer decided part of the result.
    pub(crate) fn mark_used(&self, ticket: Ticket) {
        let mut slots = self.slots.borrow_mut();
        let slot = &mut slots[ticket.0];
        if slot.answer.as_deref().is_some_and(|a| a.is_ok()) {
            slot.entry.outcome = Outcome::Used;
        }
    }

    /// The trace, in the order requests were sent. Requests still in flight are dropped
    /// (the adapter cancels them) and reported as `skipped` with no status.
    pub(crate) fn into_trace(self) -> Vec<TraceEntry> {
        let now = self.transport.now_ms();
        self.slots
            .into_inner()
            .into_iter()
            .map(|mut slot| {
                if slot.pending.is_some() {
                    slot.entry.ms = round_ms(now - slot.started_ms);
                }
                slot.entry
            })
            .collect()
    }
}

fn round_ms(ms: f64) -> u32 {
    if ms.is_finite() && ms > 0.0 {
        ms.round().min(u32::MAX as f64) as u32
    } else {
        0
    }
}
