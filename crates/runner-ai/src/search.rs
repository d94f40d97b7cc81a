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
    // Kestra has no property for the API's address; runner reads RUNNER_TAVILY_URL.
    let base = ctx
        .env_var("RUNNER_TAVILY_URL")
        .unwrap_or("https://api.tavily.com")
        .trim_end_matches('/')
        .to_string();
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
    let results = body
        .get("results")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(results
        .iter()
        .filter_map(|r| {
            Some(Found {
                content: r.get("content").and_then(Json::as_str)?.to_string(),
                title: r
                    .get("title")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                url: r
                    .get("url")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect())
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
    // Kestra has no property for the API's address; runner reads RUNNER_GOOGLE_SEARCH_URL.
    let base = ctx
        .env_var("RUNNER_GOOGLE_SEARCH_URL")
        .unwrap_or("https://www.googleapis.com")
        .trim_end_matches('/')
        .to_string();
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
    let items = body
        .get("items")
        .and_then(Json::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(items
        .iter()
        .filter_map(|r| {
            Some(Found {
                content: r.get("snippet").and_then(Json::as_str)?.to_string(),
                title: r
                    .get("title")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
                url: r
                    .get("link")
                    .and_then(Json::as_str)
                    .unwrap_or_default()
                    .to_string(),
            })
        })
        .collect())
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
