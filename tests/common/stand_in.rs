//! What the stand-ins that keep their own state share: one httpmock server answering every request with a handler over that state, and the reading of a request's header.

use std::sync::{Arc, Mutex};

use httpmock::{HttpMockRequest, HttpMockResponse, MockServer};

/// A server whose every request `handle` answers, over `state` (locked for each request).
pub fn serve<S: Send + 'static>(
    state: &Arc<Mutex<S>>,
    handle: fn(&mut S, &HttpMockRequest) -> HttpMockResponse,
) -> MockServer {
    serve_on(MockServer::start(), state, handle)
}

/// [`serve`] on `server`, whose mocks made before answer what they match instead.
pub fn serve_on<S: Send + 'static>(
    server: MockServer,
    state: &Arc<Mutex<S>>,
    handle: fn(&mut S, &HttpMockRequest) -> HttpMockResponse,
) -> MockServer {
    let shared = Arc::clone(state);
    server.mock(|_, then| {
        then.respond_with(move |req: &HttpMockRequest| {
            let mut state = shared.lock().expect("the stand-in's state");
            handle(&mut state, req)
        });
    });
    server
}

/// A request's header `name`, in any case.
pub fn header(req: &HttpMockRequest, name: &str) -> Option<String> {
    req.headers_vec()
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}
