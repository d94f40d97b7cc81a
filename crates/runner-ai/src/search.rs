//! Web search for the agent's retrievers and tools: Tavily's search API and Google's Custom
//! Search JSON API, through the HTTP kit's client (the run's network policy applies). Neither
//! is a server that can run here: both are verified against contract servers built from their
//! published references.

use runner_core::plugin::*;
use runner_http::client::{self, ClientOptions};
use serde_json::json;
use std::time::Duration;

/// One web search result.
pub(crate) struct Found {
    pub(crate) title: String,
    pub(crate) url: String,
    pub(crate) content: String,
}

impl Found {
    /// As the prompt or a tool's result gives it: title, address, content.
    pub(crate) fn text(&self) -> String {
        format!("{}\n{}\n{}", self.title, self.url, self.content)
    }
}

/// Tavily's search: at most `max` results for `query`. `property` names the retriever or tool
/// in messages.
pub(crate) async fn tavily_search(
    ctx: &RunContext,
    key: &str,
    query: &str,
    max: i64,
    property: &str,
) -> Result<Vec<Found>, TaskError> {
    let base = base(ctx, "RUNNER_TAVILY_URL", "https://api.tavily.com");
    let url = client::parse_url(ctx, "RUNNER_TAVILY_URL", &format!("{base}/search"))?;
    let http = client::client(ctx, &ClientOptions::default())?;
    let response = http
        .post(url.clone())
        .bearer_auth(key)
        .header(client::reqwest::header::CONTENT_TYPE, "application/json")
        .body(json!({"query": query, "max_results": max}).to_string())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| client::send_error(url.as_str(), e))?;
    let body = search_answer(response, "Tavily", property).await?;
    Ok(found(&body["results"], "content", "url"))
}

/// Google's Custom Search JSON API (`customsearch/v1`): at most `max` results (it gives 10 at
/// most) for `query` in search engine `cx`.
pub(crate) async fn google_search(
    ctx: &RunContext,
    key: &str,
    cx: &str,
    query: &str,
    max: i64,
    property: &str,
) -> Result<Vec<Found>, TaskError> {
    let base = base(
        ctx,
        "RUNNER_GOOGLE_SEARCH_URL",
        "https://www.googleapis.com",
    );
    let mut url = client::parse_url(
        ctx,
        "RUNNER_GOOGLE_SEARCH_URL",
        &format!("{base}/customsearch/v1"),
    )?;
    url.query_pairs_mut()
        .append_pair("key", key)
        .append_pair("cx", cx)
        .append_pair("q", query)
        .append_pair("num", &max.clamp(1, 10).to_string());
    let http = client::client(ctx, &ClientOptions::default())?;
    // The address holds the key: errors name the API, not the address.
    let response = http
        .get(url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| client::send_error("Google's Custom Search API", e.without_url()))?;
    let body = search_answer(response, "Google Custom Search", property).await?;
    Ok(found(&body["items"], "snippet", "link"))
}

/// A search API's address: Kestra has no property for it, so runner reads `variable` from the
/// run's environment (for contract servers), else the API's own.
fn base(ctx: &RunContext, variable: &str, default: &str) -> String {
    ctx.env_var(variable)
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

/// The results of an answer's list: `title`, the address under `link`, the text under
/// `content` (an item without text is left out).
fn found(items: &Json, content: &str, link: &str) -> Vec<Found> {
    let text = |r: &Json, k: &str| r.get(k).and_then(Json::as_str).map(str::to_string);
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some(Found {
                content: text(r, content)?,
                title: text(r, "title").unwrap_or_default(),
                url: text(r, link).unwrap_or_default(),
            })
        })
        .collect()
}

/// A search API's answer as JSON; a refusal says what to check (never quoting a refused
/// key's answer: it may hold pieces of the key).
async fn search_answer(
    response: client::reqwest::Response,
    api: &str,
    property: &str,
) -> Result<Json, TaskError> {
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| {
        TaskError::new(
            ErrorKind::Remote,
            format!("{api}'s answer could not be read"),
        )
        .caused_by(e)
    })?;
    if !(200..300).contains(&status) {
        let refused = matches!(status, 400 | 401 | 403)
            && text.to_ascii_lowercase().contains("key")
            || matches!(status, 401 | 403);
        let detail = if refused {
            "the API key was refused".to_string()
        } else {
            text.chars().take(300).collect()
        };
        return Err(TaskError::new(
            ErrorKind::Remote,
            format!("{api} answered {status}: {detail}"),
        )
        .hint(if refused {
            format!("check `{property}.apiKey`")
        } else {
            format!("{api}'s message says what it refused")
        }));
    }
    serde_json::from_str(&text).map_err(|e| {
        TaskError::new(ErrorKind::Remote, format!("{api}'s answer is not JSON")).caused_by(e)
    })
}
