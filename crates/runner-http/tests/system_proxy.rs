//! The proxy variables of runner's own environment (`HTTP_PROXY`, `NO_PROXY`): a request
//! goes through the proxy unless its host is listed in `NO_PROXY`. A test binary of its own
//! with one test, because the variables are set for the whole process before anything runs.

mod support;

use support::{body_json, flow, run, start};

#[test]
fn proxy_variables_route_requests_and_no_proxy_bypasses_them() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let proxy = rt.block_on(start());
    let target = rt.block_on(start());
    // SAFETY: no other thread of this test binary is running yet that reads the environment
    // (the runtime's workers are idle, and this binary holds only this test).
    unsafe {
        std::env::set_var("HTTP_PROXY", format!("http://{}", proxy.addr));
        std::env::set_var("NO_PROXY", "127.0.0.1,example.internal");
        std::env::remove_var("http_proxy");
        std::env::remove_var("no_proxy");
    }
    let yaml = flow(&format!(
        "  - id: via\n    type: io.kestra.plugin.core.http.Request\n    uri: http://upstream.invalid/thing\n  - id: direct\n    type: io.kestra.plugin.core.http.Request\n    uri: \"{}\"\n",
        target.url("/echo")
    ));
    let r = rt.block_on(run(&yaml));
    assert_eq!(r.state.as_str(), "SUCCESS", "{}", r.logs);

    let through = proxy.seen.lock().unwrap().clone();
    assert_eq!(through.len(), 1, "{through:?}");
    assert_eq!(through[0].target, "http://upstream.invalid/thing");
    assert_eq!(
        body_json(&r, "via")["proxied"],
        "http://upstream.invalid/thing"
    );

    let direct = target.at("/echo");
    assert_eq!(direct.len(), 1);
    assert_eq!(direct[0].target, "/echo", "NO_PROXY host reached directly");
    assert_eq!(body_json(&r, "direct")["method"], "GET");
}
